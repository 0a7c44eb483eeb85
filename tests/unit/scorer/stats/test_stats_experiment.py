"""ExperimentStats: folding, duplicates, pairing and decisions."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as sps

from agents.scorer.stats import ExperimentStats, Observation
from schemas.experiment import AnalysisConfig

ARMS = {"ctl": ("Control", True), "a": ("Variant A", False), "b": ("Variant B", False)}


def obs(trial: str, vid: str, cell: str, value: float | None, model: str = "m1",
        cost: float = 0.0) -> Observation:
    name, control = ARMS[vid]
    return Observation(trial, vid, name, control, ("role",) if vid == "b" else (), cell, model,
                       value, cost)


def paired_trials(n_cells: int, effects: dict[str, float], seed: int = 1, noise: float = 0.1,
                  binary: bool = False) -> list[Observation]:
    """Every variation on every cell; a per-cell difficulty makes pairing matter."""
    rng = random.Random(seed)
    out = []
    for cell_no in range(n_cells):
        base = rng.uniform(0.2, 0.6)
        cell = f"case{cell_no}|m1|0"
        for vid, effect in effects.items():
            if binary:
                value = float(rng.random() < base + effect)
            else:
                value = min(1.0, max(0.0, base + effect + rng.gauss(0, noise)))
            out.append(obs(f"{vid}-{cell_no}", vid, cell, value))
    return out


def fold_all(trials, config=None) -> ExperimentStats:
    st = ExperimentStats(config or AnalysisConfig())
    for o in trials:
        st.fold(o)
    return st


def by_id(summary):
    return {v.variation_id: v for v in summary.variations}


def test_duplicate_trial_is_counted_once():
    trials = paired_trials(20, {"ctl": 0.0, "a": 0.05})
    st = fold_all(trials)
    before = st.analyze(final=True)
    assert st.fold(trials[3]) is False
    assert st.fold(obs(trials[3].trial_id, "a", "other|m1|0", 0.99)) is False
    assert st.n_folded == 40
    assert st.analyze(final=True) == before


def test_paired_analysis_matches_scipy_paired_t_on_the_matched_cells():
    trials = paired_trials(25, {"ctl": 0.0, "a": 0.04})
    result = by_id(fold_all(trials).analyze(final=True))["a"]
    ctl = [o.value for o in trials if o.variation_id == "ctl"]
    var = [o.value for o in trials if o.variation_id == "a"]
    ref = sps.ttest_rel(var, ctl)
    assert result.test == "paired-t"
    assert math.isclose(result.p_value, ref.pvalue, rel_tol=1e-9)
    ci = ref.confidence_interval(0.95)
    assert math.isclose(result.lift_ci_low, ci.low, rel_tol=1e-9)
    assert math.isclose(result.lift_ci_high, ci.high, rel_tol=1e-9)


def test_unpaired_analysis_is_welch_when_no_cell_matches():
    trials = [obs(f"c{i}", "ctl", f"x{i}|m1|0", 0.3 + 0.01 * (i % 7)) for i in range(15)]
    trials += [obs(f"a{i}", "a", f"y{i}|m1|0", 0.35 + 0.013 * (i % 5)) for i in range(12)]
    result = by_id(fold_all(trials).analyze(final=True))["a"]
    ref = sps.ttest_ind([o.value for o in trials[15:]], [o.value for o in trials[:15]],
                        equal_var=False)
    assert result.test == "welch"
    assert math.isclose(result.p_value, ref.pvalue, rel_tol=1e-9)


def test_pass_metric_uses_mcnemar_when_paired_and_proportion_tests_when_not():
    config = AnalysisConfig(metric="pass")
    paired = by_id(fold_all(paired_trials(60, {"ctl": 0.0, "a": 0.3}, binary=True),
                            config).analyze(final=True))["a"]
    assert paired.test == "mcnemar-exact"
    big = [obs(f"c{i}", "ctl", f"x{i}", float(i % 3 == 0)) for i in range(90)]
    big += [obs(f"a{i}", "a", f"y{i}", float(i % 2 == 0)) for i in range(90)]
    assert by_id(fold_all(big, config).analyze(final=True))["a"].test == "two-proportion-z"
    small = [obs(f"c{i}", "ctl", f"x{i}", float(i == 0)) for i in range(6)]
    small += [obs(f"a{i}", "a", f"y{i}", float(i < 4)) for i in range(6)]
    assert by_id(fold_all(small, config).analyze(final=True))["a"].test == "fisher-exact"


def test_pass_metric_rejects_values_other_than_zero_and_one():
    st = ExperimentStats(AnalysisConfig(metric="pass"))
    with pytest.raises(ValueError):
        st.fold(obs("t1", "ctl", "c|m|0", 0.5))
    assert st.n_folded == 0


def test_failed_trials_count_as_failed_not_as_scores():
    trials = paired_trials(10, {"ctl": 0.0, "a": 0.0})
    trials.append(obs("fail-1", "a", "case0|m1|1", None, cost=0.002))
    result = by_id(fold_all(trials).analyze(final=True))["a"]
    assert result.n == 10 and result.n_failed == 1
    assert math.isclose(result.cost_usd, 0.002)


def test_control_comes_first_and_pairs_form_when_the_control_arrives_late():
    trials = paired_trials(12, {"ctl": 0.0, "a": 0.1})
    late = [o for o in trials if o.variation_id == "a"] + [o for o in trials if o.variation_id == "ctl"]
    summary = fold_all(late).analyze(final=True)
    assert [v.variation_id for v in summary.variations] == ["ctl", "a"]
    assert summary.variations[0].is_control
    assert by_id(summary)["a"].test == "paired-t"
    assert by_id(summary)["a"].p_value == pytest.approx(
        by_id(fold_all(trials).analyze(final=True))["a"].p_value, rel=1e-9)


def test_by_model_statistics_split_a_variation():
    trials = [obs(f"t{i}", "ctl", f"c{i}|{m}|0", v, model=m)
              for i, (m, v) in enumerate([("m1", 0.2), ("m1", 0.4), ("m2", 0.9)])]
    control = fold_all(trials).analyze(final=True).variations[0]
    assert control.by_model["m1"]["n"] == 2
    assert control.by_model["m1"]["mean"] == pytest.approx(0.3)
    assert control.by_model["m2"]["mean"] == pytest.approx(0.9)


def test_clear_winner_is_declared_from_the_family_level_confidence_sequence():
    summary = fold_all(paired_trials(80, {"ctl": 0.0, "a": 0.0, "b": 0.15})).analyze(final=True)
    assert summary.decision == "winner" and summary.winner_id == "b"
    assert summary.family_size == 2 and summary.cs_level == pytest.approx(0.975)
    b = by_id(summary)["b"]
    assert b.p_adjusted <= 0.05 and b.cs_low >= 0 and b.cs_high <= 1
    assert "Variant B" in summary.reason and "always-valid" in summary.reason
    assert "97.5% confidence sequences" in summary.reason
    assert b.p_best > 0.95 and b.expected_loss < by_id(summary)["ctl"].expected_loss
    assert summary.additional_samples_needed is None


def test_sequential_design_stops_early_and_fixed_design_waits():
    trials = paired_trials(80, {"ctl": 0.0, "b": 0.2})
    assert fold_all(trials).analyze(final=False).decision == "winner"
    fixed = fold_all(trials, AnalysisConfig(design="fixed")).analyze(final=False)
    assert fixed.decision == "running" and fixed.winner_id is None


def test_no_difference_is_inconclusive_with_the_sample_it_would_take():
    config = AnalysisConfig(min_effect=0.02)
    summary = fold_all(paired_trials(15, {"ctl": 0.0, "a": 0.0}, noise=0.2), config
                       ).analyze(final=True)
    assert summary.decision == "inconclusive" and summary.winner_id is None
    assert isinstance(summary.additional_samples_needed, int)
    assert summary.additional_samples_needed > 0
    assert fold_all(paired_trials(15, {"ctl": 0.0, "a": 0.0}, noise=0.2)
                    ).analyze(final=False).decision == "running"


def test_every_variation_worse_means_control_best():
    summary = fold_all(paired_trials(60, {"ctl": 0.0, "a": -0.2, "b": -0.25})).analyze(final=True)
    assert summary.decision == "control-best" and summary.winner_id == "ctl"


def test_futility_when_no_variation_can_reach_the_minimum_effect():
    config = AnalysisConfig(min_effect=0.2)
    summary = fold_all(paired_trials(300, {"ctl": 0.0, "a": 0.0}, noise=0.05), config
                       ).analyze(final=False)
    assert summary.decision == "futile" and summary.winner_id is None
    assert "futile" in summary.reason


def test_small_but_significant_lift_below_min_effect_is_not_a_winner():
    config = AnalysisConfig(min_effect=0.3)
    summary = fold_all(paired_trials(200, {"ctl": 0.0, "a": 0.05}, noise=0.02), config
                       ).analyze(final=True)
    assert summary.decision != "winner"


def test_sample_ratio_mismatch_is_flagged():
    trials = paired_trials(100, {"ctl": 0.0, "a": 0.0})
    trials += [obs(f"extra{i}", "a", f"extra{i}|m1|0", 0.5) for i in range(60)]
    assert fold_all(trials).analyze(final=True).srm_p_value < 0.01
    balanced = fold_all(paired_trials(100, {"ctl": 0.0, "a": 0.0})).analyze(final=True)
    assert balanced.srm_p_value == pytest.approx(1.0)


def test_a_planned_variation_that_never_reported_is_a_sample_ratio_mismatch():
    trials = paired_trials(100, {"ctl": 0.0, "a": 0.0})
    assert fold_all(trials, AnalysisConfig(family_size=1)).analyze(
        final=True).srm_p_value == pytest.approx(1.0)
    assert fold_all(trials, AnalysisConfig(family_size=2)).analyze(
        final=True).srm_p_value < 1e-6


def test_holm_adjusted_p_is_never_below_the_raw_always_valid_p():
    summary = fold_all(paired_trials(40, {"ctl": 0.0, "a": 0.03, "b": 0.06})).analyze(final=True)
    for v in summary.variations[1:]:
        assert v.p_adjusted >= v.p_always_valid


def test_analysis_without_a_control_is_inconclusive():
    st = fold_all([obs("t1", "a", "c1|m1|0", 0.4), obs("t2", "b", "c1|m1|0", 0.6)])
    summary = st.analyze(final=True)
    assert summary.decision == "inconclusive" and "control" in summary.reason


def test_plan_check_warns_when_the_sample_cannot_detect_the_minimum_effect():
    from agents.scorer.stats.power import check_plan

    # min_effect 0.125 on scores with sd 0.25 is dz = 0.5: 34 pairs for 80 % power (G*Power).
    short = check_plan(20, 0.125, sd=0.25, paired=True)
    assert short.n_needed == 34 and short.warning is not None and "34" in short.warning
    assert short.power_at_min_effect < 0.8
    enough = check_plan(40, 0.125, sd=0.25, paired=True)
    assert enough.warning is None and enough.power_at_min_effect > 0.8
    binary = check_plan(50, 0.25, metric="pass", baseline=0.5)
    assert binary.n_needed == 58 and binary.warning is not None  # 57.67 per group, rounded up
    assert check_plan(10, 0.0).warning is None  # no minimum effect stated: nothing to check


def test_the_analysis_adds_a_wilcoxon_check_on_the_pairs():
    """R: wilcox.test(extra ~ group, data = sleep, paired = TRUE) gives V = 0,
    p-value = 0.009091 (normal approximation with continuity correction: ties and a zero).
    Scores live in [0, 1], so the hours are mapped by (x + 2) / 10: ranks, ties and the zero
    difference are unchanged."""
    group1 = [(x + 2) / 10 for x in [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]]
    group2 = [(x + 2) / 10 for x in [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]]
    stats = ExperimentStats(AnalysisConfig(design="fixed"))
    for i, (x, y) in enumerate(zip(group1, group2, strict=True)):
        stats.fold(Observation(f"c{i}", "c", "control", True, (), f"p{i}", "m", x))
        stats.fold(Observation(f"v{i}", "v", "v", False, (), f"p{i}", "m", y))
    [result] = [v for v in stats.analyze(final=True).variations if not v.is_control]
    assert result.rank_test == "wilcoxon"
    assert result.p_rank == pytest.approx(0.009091, rel=1e-4)
