"""`promptopt run` end to end on the embedded runtime: every agent, the LLM simulator,
no servers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from promptopt.embedded import run_experiment
from promptopt.experiment_file import load_experiment
from topics.catalogue import PROMPT_SUBMITTED

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "examples" / "sentiment.yaml"


def _spec(**changes):
    return load_experiment(EXAMPLE).model_copy(update=changes)


def _fixed(**changes):
    spec = _spec(**changes)
    return spec.model_copy(update={"analysis": spec.analysis.model_copy(update={"design": "fixed"})})


async def test_a_run_yields_one_final_analysis_with_every_trial_counted():
    spec = _fixed(n_variations=2)
    result = await run_experiment(spec, "embedded-1")
    [final] = result.finals()
    n_variations = len(result.rounds[0].variations)
    planned = n_variations * len(spec.test_cases)
    assert n_variations == 3
    assert final.trials_expected == final.trials_done == planned
    assert sum(v.n + v.n_failed for v in final.variations) == planned
    assert [v.is_control for v in final.variations].count(True) == 1
    assert final.decision in ("winner", "control-best", "futile", "inconclusive")
    assert not result.dead_letters
    assert len({t.trial.trial_id for t in result.trials}) == len(result.trials) == planned


async def test_the_example_finds_its_winner_early_with_always_valid_p_values():
    """The example's sequential design may stop as soon as a winner is clear: the
    output-format variation wins on the simulator, before every trial has run."""
    spec = _spec()
    result = await run_experiment(spec, "embedded-seq")
    [final] = result.finals()
    winner = next(v for v in final.variations if v.variation_id == final.winner_id)
    assert final.decision == "winner" and "output-format" in winner.patterns
    assert winner.p_adjusted <= spec.analysis.alpha and winner.lift >= spec.analysis.min_effect
    assert final.trials_done < final.trials_expected  # stopped early ...
    skipped = [t for t in result.trials if t.status == "skipped"]
    assert all(t.reason.startswith("stopped") for t in skipped)  # ... and said so


async def test_a_redelivered_prompt_does_not_double_count(monkeypatch):
    """At-least-once delivery: the same prompt-submitted twice gives the same trial ids,
    and the statistics fold each trial once."""
    from agents.runtime import local

    spec = _fixed(n_variations=1)
    original_publish = local.LocalRuntime.publish

    async def publish_twice(self, topic, event):
        await original_publish(self, topic, event)
        if topic is PROMPT_SUBMITTED:
            await original_publish(self, topic, event)

    monkeypatch.setattr(local.LocalRuntime, "publish", publish_twice)
    result = await run_experiment(spec, "embedded-dup")
    finals = result.finals()
    assert len(finals) == 1
    planned = 2 * len(spec.test_cases)
    assert finals[0].trials_done == planned
    assert len(result.trials) == 2 * planned  # every trial delivered twice ...
    assert len({t.trial.trial_id for t in result.trials}) == planned  # ... under the same ids


def test_the_cli_prints_a_report_and_writes_the_json_result(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "run", str(EXAMPLE), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "decision:" in proc.stdout and "p (always-valid)" in proc.stdout
    [path] = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    [final] = result["final_analyses"]
    # Every planned trial is reported, including those skipped after an early stop.
    assert len(result["trials"]) == final["trials_expected"] >= final["trials_done"]
    assert {"mean", "ci_low", "ci_high", "p_value"} <= set(final["variations"][1])


def test_the_cli_refuses_a_bad_file_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompt: Say hi to {{name}}\nmodels: [sim/small]\n"
                   "tests: [{vars: {name: Ann}, assert: [{type: javascript}]}]\n")
    proc = subprocess.run([sys.executable, "-m", "promptopt.cli", "run", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert "javascript" in proc.stderr and "needs code" in proc.stderr
    assert "Traceback" not in proc.stderr


async def test_local_runs_accumulate_learned_pattern_statistics(tmp_path):
    learned = tmp_path / "pattern-stats.json"
    spec = _fixed(n_variations=1)
    await run_experiment(spec, "learn-1", pattern_stats=learned)
    first = json.loads(learned.read_text())
    await run_experiment(spec, "learn-2", pattern_stats=learned)
    second = json.loads(learned.read_text())
    assert first and all(k.startswith("pattern:") and "|classification|" in k for k in first)
    # Outcomes recorded = sum of (alpha + beta) less each Beta(1, 1) prior.
    outcomes = lambda stats: sum(v["alpha"] + v["beta"] - 2 for v in stats.values())
    assert outcomes(first) == 1 and outcomes(second) == 2
