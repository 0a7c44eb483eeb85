"""`promptopt stats ...`: one JSON object on stdout; bad input is one line on stderr, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

from promptopt.commands.stats import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def json_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def samples(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    # R's sleep data, group 1 and group 2 (see test_stats_reference.py for R's outputs).
    a.write_text("0.7\n-1.6\n-0.2\n-1.2\n-0.1\n3.4\n3.7\n0.8\n0.0\n2.0\n")
    b.write_text("1.9\n0.8\n1.1\n0.1\n-0.1\n4.4\n5.5\n1.6\n4.6\n3.4\n\n")
    return str(a), str(b)


def test_sample_size_t_and_paired_and_proportions():
    two = json_of(run("sample-size", "--test", "t", "--effect-size", "0.5", "--alpha", "0.05",
                      "--power", "0.8"))
    assert two["n_per_group"] == pytest.approx(63.76576, rel=1e-4)
    assert two["n_per_group_ceil"] == 64
    paired = json_of(run("sample-size", "--test", "t", "--effect-size", "0.5", "--paired"))
    assert paired["n_per_group_ceil"] == 34
    props = json_of(run("sample-size", "--test", "proportions", "--p1", "0.5", "--p2", "0.75",
                        "--alpha", "0.05", "--power", "0.9"))
    assert props["n_per_group"] == pytest.approx(76.7, abs=0.05)
    assert props["n_per_group_ceil"] == 77


@pytest.mark.parametrize("test", ["welch", "student", "paired-t", "wilcoxon", "mann-whitney"])
def test_compare_prints_the_five_keys(samples, test):
    out = json_of(run("compare", "--a", samples[0], "--b", samples[1], "--test", test))
    assert set(out) == {"statistic", "df", "p_value", "ci_low", "ci_high"}
    assert 0 < out["p_value"] < 1
    has_ci = test in ("welch", "student", "paired-t")
    assert (out["ci_low"] is not None) == has_ci and (out["df"] is not None) == has_ci


def test_compare_welch_matches_r(samples):
    out = json_of(run("compare", "--a", samples[0], "--b", samples[1], "--test", "welch",
                      "--alpha", "0.05"))
    assert out["p_value"] == pytest.approx(0.07939, abs=5e-6)
    assert out["ci_low"] == pytest.approx(-3.3654832, rel=1e-6)


def test_adjust_keeps_input_order():
    out = json_of(run("adjust", "--method", "holm", "0.04", "0.01", "0.03"))
    assert out["adjusted"] == pytest.approx([0.06, 0.03, 0.06])
    bh = json_of(run("adjust", "--method", "bh", "0.01", "0.02", "0.03", "0.04", "0.05"))
    assert bh["adjusted"] == pytest.approx([0.05] * 5)


def test_srm_with_and_without_weights():
    assert json_of(run("srm", "--counts", "500", "500"))["p_value"] == pytest.approx(1.0)
    out = json_of(run("srm", "--counts", "89", "37", "30", "28", "2",
                      "--weights", "40", "20", "20", "15", "5"))
    assert out["p_value"] == pytest.approx(0.04059, abs=5e-6)


def test_bayes_uniform_prior():
    out = json_of(run("bayes", "--a", "1/1", "--b", "0/1"))
    assert out["p_b_beats_a"] == pytest.approx(1 / 6)
    assert out["expected_loss_a"] == pytest.approx(1 / 30)
    assert out["expected_loss_b"] == pytest.approx(11 / 30)


@pytest.mark.parametrize(
    "args",
    [
        ("compare", "--a", "EMPTY", "--b", "B", "--test", "welch"),
        ("compare", "--a", "BAD", "--b", "B", "--test", "welch"),
        ("compare", "--a", "A", "--b", "B", "--test", "welch", "--alpha", "1.5"),
        ("compare", "--a", "A", "--b", "B", "--test", "welch", "--alpha", "0"),
        ("compare", "--a", "A", "--b", "SHORT", "--test", "paired-t"),
        ("compare", "--a", "A", "--b", "SHORT", "--test", "wilcoxon"),
        ("compare", "--a", "A", "--b", "B", "--test", "anova"),
        ("compare", "--a", "A", "--b", "missing.txt", "--test", "welch"),
        ("sample-size", "--test", "t", "--effect-size", "abc"),
        ("sample-size", "--test", "t"),
        ("sample-size", "--test", "t", "--effect-size", "0.5", "--power", "1"),
        ("sample-size", "--test", "proportions", "--p1", "0.5", "--p2", "0.5"),
        ("sample-size", "--test", "t", "--effect-size", "0.5", "--bogus", "1"),
        ("adjust", "--method", "holm", "1.5"),
        ("adjust", "--method", "sidak", "0.1"),
        ("adjust", "--method", "holm"),
        ("srm", "--counts", "10"),
        ("srm", "--counts", "10", "x"),
        ("srm", "--counts", "10", "20", "--weights", "1"),
        ("bayes", "--a", "5/3", "--b", "1/2"),
        ("bayes", "--a", "5", "--b", "1/2"),
    ],
)
def test_invalid_input_is_one_line_on_stderr_and_exit_2(tmp_path, args):
    files = {"A": "1\n2\n3\n4\n", "B": "2\n3\n4\n5\n6\n", "SHORT": "1\n2\n", "EMPTY": "\n\n",
             "BAD": "1\ntwo\n3\n"}
    resolved = []
    for arg in args:
        if arg in files:
            path = tmp_path / arg
            path.write_text(files[arg])
            arg = str(path)
        resolved.append(arg)
    result = run(*resolved)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_simulate_prints_the_benchmark_figures():
    out = json_of(run("simulate", "--quick", "--streams", "100"))
    assert out["streams"] == 100 and set(out["fpr"]) >= {"two_point", "unpaired_sd3_80_20"}
    assert 0 < out["stop_ratio"] < 3


def lines_of(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_sequential_replays_each_stream_with_the_scorers_engine(tmp_path):
    from agents.scorer.stats import ExperimentStats, Observation
    from schemas.experiment import AnalysisConfig

    rng = np.random.default_rng(2)
    a = rng.uniform(0.2, 0.7, 150)
    b = np.clip(a + rng.normal(0.1, 0.15, 150), 0, 1)
    rows = [f"up,{x:.3f},{y:.3f}" for x, y in zip(a, b, strict=True)]
    rows += [f"flat,{x:.3f},{x:.3f}" for x in a[:20]]
    csv_file = tmp_path / "ab.csv"
    csv_file.write_text("stream,a,b\n" + "\n".join(rows) + "\n")
    up, flat = lines_of(run("sequential", str(csv_file), "--alpha", "0.05"))
    assert flat == {"stream": "flat", "n": 20, "first_rejection": None, "decision": "none",
                    "p_always_valid": 1.0, "cs_low": flat["cs_low"], "cs_high": flat["cs_high"]}
    assert flat["cs_low"] < 0 < flat["cs_high"]
    assert up["decision"] == "b-better" and up["first_rejection"] is not None
    # The scorer folding the same pairs one by one stops at the same row, same interval.
    stats = ExperimentStats(AnalysisConfig())
    first = None
    for i, (x, y) in enumerate(zip(a, b, strict=True), 1):
        x, y = round(float(x), 3), round(float(y), 3)
        stats.fold(Observation(f"a{i}", "a", "a", True, (), f"c{i}", "m", x))
        stats.fold(Observation(f"b{i}", "b", "b", False, (), f"c{i}", "m", y))
        v = stats.analyze(final=False).variations[1]
        if first is None and v.p_always_valid <= 0.05:
            first = i
    assert up["first_rejection"] == first
    assert (up["cs_low"], up["cs_high"]) == (v.cs_low, v.cs_high)
    assert up["p_always_valid"] == pytest.approx(v.p_always_valid, rel=1e-9)


def test_sequential_unpaired_blocks_by_arrival_and_names_bad_rows(tmp_path):
    good = tmp_path / "u.csv"
    good.write_text("stream,a,b\ns,0.2,\ns,0.4,\ns,,0.9\ns,0.1,0.8\n")
    [out] = lines_of(run("sequential", "--unpaired", str(good), "--metric", "score"))
    assert out["n"] == 4 and out["decision"] == "none"
    bad = tmp_path / "bad.csv"
    bad.write_text("stream,a,b\ns,0.2,\n")
    result = run("sequential", str(bad))
    assert result.exit_code == 2 and "line 2" in result.stderr and "--unpaired" in result.stderr
    result = run("sequential", str(good), "--metric", "pass", "--unpaired")
    assert result.exit_code == 2 and "0 or 1" in result.stderr


def _scorer_stops(a: np.ndarray, b: np.ndarray, planned: int):
    """The scorer folding the pairs one by one (design group-sequential, one variation):
    its analysis when it first decides, or its final analysis when the pairs run out."""
    from agents.scorer.stats import ExperimentStats, Observation
    from schemas.experiment import AnalysisConfig

    stats = ExperimentStats(AnalysisConfig(design="group-sequential", looks=5, family_size=1,
                                           planned_pairs=planned))
    for i, (x, y) in enumerate(zip(a, b, strict=True), 1):
        stats.fold(Observation(f"a{i}", "a", "a", True, (), f"c{i}", "m", float(x)))
        stats.fold(Observation(f"b{i}", "b", "b", False, (), f"c{i}", "m", float(y)))
        summary = stats.analyze(final=False)
        if summary.decision != "running":
            return summary
    return stats.analyze(final=True)


def test_sequential_replays_a_group_sequential_plan_as_the_scorer_runs_it(tmp_path):
    rng = np.random.default_rng(3)
    q = rng.beta(2.0, 2.0, 100)
    streams = {  # 4-assertion scores: a lift of 0.2, none, a large loss (harm at look 1: a
        # smaller one crosses the futility bound first), and a stream cut at 30 pairs
        "up": (rng.binomial(4, q) / 4, rng.binomial(4, np.clip(q + 0.2, 0, 1)) / 4),
        "null": (rng.binomial(4, q) / 4, rng.binomial(4, q) / 4),
        "down": (rng.binomial(4, 0.9, 100) / 4, rng.binomial(4, 0.1, 100) / 4),
    }
    streams["short"] = (streams["up"][0][:30], streams["up"][1][:30])
    csv_file = tmp_path / "gs.csv"
    csv_file.write_text("stream,a,b\n" + "".join(
        f"{name},{x},{y}\n" for name, (a, b) in streams.items()
        for x, y in zip(a, b, strict=True)))
    lines = lines_of(run("sequential", str(csv_file), "--design", "group-sequential",
                         "--looks", "5", "--pairs", "100"))
    out = {line["stream"]: line for line in lines}
    assert out["up"]["stopped_for"] == "efficacy" and out["up"]["decision"] == "b-better"
    assert out["null"]["stopped_for"] == "futility" and out["null"]["decision"] == "none"
    assert out["down"]["stopped_for"] == "harm" and out["down"]["decision"] == "a-better"
    assert out["short"]["looks"][-1]["final"] and out["short"]["looks"][-1]["pairs"] == 30
    expected = {"efficacy": "winner", "harm": "control-best", "futility": "futile",
                None: "inconclusive"}
    for name, (a, b) in streams.items():
        line, summary = out[name], _scorer_stops(a, b, 100)
        look = summary.variations[1].group_sequential
        assert summary.decision == expected[line["stopped_for"]], name
        assert [(k["look"], k["pairs"]) for k in line["looks"]][-1] == (look.look, look.pairs)
        assert line["looks"][-1]["z"] == pytest.approx(look.z, rel=1e-12)
        assert line["looks"][-1]["efficacy_z"] == pytest.approx(look.efficacy_z, rel=1e-12)
        assert (line["cs_low"], line["cs_high"]) == pytest.approx(
            (summary.variations[1].cs_low, summary.variations[1].cs_high), rel=1e-12)
        if line["decision"] != "none":
            assert line["first_rejection"] == look.pairs  # the row of the look that crossed
    # The plan's looks are the scorer's (20, 40, ... pairs), each with its bounds.
    assert [k["pairs"] for k in out["null"]["looks"]] == [20, 40, 60][:len(out["null"]["looks"])]


def test_sequential_group_sequential_replay_decides_zero_spread_streams(tmp_path):
    # The defect: every paired difference identical (40/40 passes against 0/40) left z
    # undefined at every look, so the replay never decided. Now the exact sign test's
    # p = 2^-n on the z scale, against the same bounds the scorer uses.
    streams = {"all-better": (0, 1), "all-worse": (1, 0), "all-tied": (1, 1)}
    csv_file = tmp_path / "zero-spread.csv"
    csv_file.write_text("stream,a,b\n" + "".join(
        f"{name},{a},{b}\n" for name, (a, b) in streams.items() for _ in range(40)))
    lines = lines_of(run("sequential", str(csv_file), "--design", "group-sequential",
                         "--looks", "3", "--metric", "pass"))
    out = {line["stream"]: line for line in lines}
    up, down, tied = out["all-better"], out["all-worse"], out["all-tied"]
    assert [k["pairs"] for k in up["looks"]] == [14]  # 2^-14 crosses look 1's bound
    assert up["stopped_for"] == "efficacy" and up["decision"] == "b-better"
    assert up["first_rejection"] == 14
    assert up["looks"][0]["z"] == pytest.approx(sps.norm.isf(2.0**-14))
    assert up["cs_low"] == pytest.approx(2 * 0.05 ** (1 / 13) - 1) and up["cs_high"] == 1.0
    assert any("exact sign test" in w for w in up["warnings"])
    assert down["stopped_for"] == "harm" and down["decision"] == "a-better"
    assert down["first_rejection"] == 14 and down["cs_high"] < 0
    # No difference at all: no evidence (z = 0); look 1's futility bound is below 0, look
    # 2's above it, so the plan stops for futility there.
    assert [k["z"] for k in tied["looks"]] == [0.0, 0.0]
    assert tied["stopped_for"] == "futility" and tied["decision"] == "none"
    assert tied["first_rejection"] is None


def test_sequential_refuses_planning_options_without_the_group_sequential_design(tmp_path):
    csv_file = tmp_path / "ab.csv"
    csv_file.write_text("stream,a,b\ns,0.1,0.2\ns,0.3,0.5\ns,0.2,0.2\n")
    result = run("sequential", str(csv_file), "--looks", "3")
    assert result.exit_code == 2 and "--design group-sequential" in result.stderr
    result = run("sequential", str(csv_file), "--design", "gs")
    assert result.exit_code == 2 and "--design must be" in result.stderr
    result = run("sequential", "--unpaired", str(csv_file), "--design", "group-sequential")
    assert result.exit_code == 2 and "paired rows" in result.stderr
    result = run("sequential", str(csv_file), "--design", "group-sequential",
                 "--fractions", "0.5,0.4,1")
    assert result.exit_code == 2 and "looks" in result.stderr
    # Three pairs planned: one look, the final one.
    [line] = lines_of(run("sequential", str(csv_file), "--design", "group-sequential"))
    assert line["planned_pairs"] == 3 and [k["pairs"] for k in line["looks"]] == [3]


def test_through_the_promptopt_entry_point_errors_stay_one_line(tmp_path):
    # The real lazy command group, as a user runs it.
    done = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "stats", "compare", "--a", str(tmp_path / "no"),
         "--b", str(tmp_path / "no"), "--test", "welch"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1


def test_group_sequential_plans_the_looks_the_scorer_uses():
    plan = json_of(run("group-sequential", "--looks", "5", "--pairs", "98"))
    assert [look["pairs"] for look in plan["looks"]] == [20, 40, 59, 79, 98]
    assert plan["looks"][-1]["futility_z"] is None
    assert plan["looks"][-1]["efficacy_z"] == pytest.approx(2.033, abs=1e-3)
    # Normal theory: the expected stop at the design effect is 0.81 of the fixed-horizon n.
    assert plan["expected_pairs_at_d"] < 0.82 * plan["planned_pairs"] / plan["inflation"]
    # Sized for an effect: the pairs at which the design detects d = 0.3 with 80 % power.
    sized = json_of(run("group-sequential", "--fractions", "0.5,1", "--effect-size", "0.3"))
    assert sized["detectable_d"] == pytest.approx(0.3, abs=0.003)
    bad = run("group-sequential", "--fractions", "0.5,0.2,1")
    assert bad.exit_code == 2 and "information fractions" in bad.output
