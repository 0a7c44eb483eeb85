"""The corpus of promptfoo-style configs (tests/corpus/promptfoo/<name>/): each is read as
promptfoo reads it and runs end to end on the embedded runtime and the LLM simulator (which
also judges and embeds); its expect.yaml states what must come out."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promptopt.commands.run import check_graders
from promptopt.embedded import run_experiment
from promptopt.experiment_file import experiment_id_for, read_experiment
from promptopt.results import run_summary, rows_per_test_case
from promptopt.settings import Settings

CORPUS = Path(__file__).parents[2] / "corpus" / "promptfoo"
CONFIGS = sorted(p.parent.name for p in CORPUS.glob("*/promptfooconfig.yaml"))


def test_the_corpus_covers_at_least_twenty_configs():
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize("name", CONFIGS)
async def test_each_config_runs_end_to_end(name):
    folder = CORPUS / name
    expect = yaml.safe_load((folder / "expect.yaml").read_text())
    loaded = read_experiment(folder)  # a folder finds its promptfooconfig.yaml
    spec = loaded.spec
    settings = Settings()
    check_graders(spec, settings)
    for warning in expect.get("warnings", []):
        assert any(warning in w for w in loaded.warnings), loaded.warnings

    result = await run_experiment(spec, experiment_id_for(spec), settings=settings,
                                  timeout_s=120)

    assert result.dead_letters == []
    assert len(result.scored) == len(result.trials) == expect["trials"]
    assert all(s.trial.status == "completed" for s in result.scored), [
        s.trial.reason for s in result.scored if s.trial.status != "completed"]
    summary = run_summary(result)
    assert summary.comparable, summary.problem
    if "arms" in expect:
        assert [v.name if len(v.name) < 60 else v.prompt for v in result.rounds[0].variations
                ] == expect["arms"]
    if "judge_calls" in expect:
        assert summary.judge_calls == expect["judge_calls"] and summary.judge_cost_usd > 0
    for wanted in expect.get("models", []):
        model = next(m for m in spec.models if m.id == wanted["id"])
        assert {k: getattr(model, k) for k in wanted} == wanted
    for wanted in expect.get("tests", []):
        test = next(t for t in spec.test_cases if t.id == wanted["id"])
        for key, value in wanted.items():
            actual = getattr(test, key)
            if isinstance(value, dict):
                assert {k: actual[k] for k in value} == value
            else:
                assert (list(actual) if isinstance(actual, tuple) else actual) == value
    if "by_model" in expect:  # per-model statistics, one entry per model (and variant)
        for analysis in result.finals():
            for arm in analysis.variations:
                assert len(arm.by_model) == expect["by_model"], arm.by_model
        assert len({s.trial.trial.trial_id for s in result.scored}) == expect["trials"]
    rows = rows_per_test_case(result)
    prompts = {v.variation_id: v.prompt for r in result.rounds for v in r.variations}
    for cell in expect.get("cells", []):
        # an arm by its label, or by its prompt's text
        [row] = [r for r in rows if r["test_case_id"] == cell["test"]
                 and cell["arm"] in (r["arm"], prompts[r["variation_id"]])]
        assert row["passed"] is cell["passed"], row["assertions"]
        if "failed" in cell:
            assert {a["type"] for a in row["assertions"] if not a["passed"]} == set(cell["failed"])
        if "score" in cell:
            assert row["score"] == pytest.approx(cell["score"])
        if "named" in cell:
            assert row["named_scores"] == pytest.approx(cell["named"])
