"""The performance predictor: trained from measured results, beats the mean on held-out
prompts, persists, and labels a round's variations."""

from __future__ import annotations

import json

import pytest

from agents.optimizer.predictor import Predictor, evaluate, rows_from_events, rows_from_run_results
from agents.optimizer.services import load_predictor, with_predictions
from agents.optimizer.simulated_measurements import simulated_rows
from schemas.events import AnalysisReady, VariationGenerated, VariationResult
from schemas.experiment import ExperimentSpec, Variation


@pytest.fixture(scope="module")
def rows():
    return simulated_rows(24, seed=3)


def test_held_out_error_beats_predicting_the_mean(rows):
    result = evaluate(rows, folds=3)
    print(f"\npredictor held-out MAE {result['mae']} vs mean baseline {result['baseline_mae']}")
    assert result["groups"] >= 20
    assert result["mae"] < 0.85 * result["baseline_mae"]


def test_predictions_follow_what_the_simulator_rewards(rows):
    model = Predictor.train(rows)
    plain = model.predict("Summarize {{doc}}.", None, (), "sim/medium", "general")
    better = model.predict("You are an expert editor. Summarize {{doc}}.\n\nExamples:\n"
                           "Input: a\nOutput: b\n\nRespond with only the summary, nothing else.",
                           None, ("role", "few-shot", "output-format"), "sim/medium", "general")
    big = model.predict("Summarize {{doc}}.", None, (), "sim/large", "general")
    assert better.score > plain.score + 0.1 and big.score > plain.score
    assert 0 <= plain.confidence <= 1


def test_save_and_load_round_trip(rows, tmp_path):
    model = Predictor.train(rows)
    path = model.save(tmp_path / "p" / "predictor.joblib")
    again = load_predictor(path)
    args = ("Classify {{x}}.", None, ("role",), "sim/small", "general")
    assert again.predict(*args) == model.predict(*args)
    assert again.meta["rows"] == len(rows)
    assert load_predictor(tmp_path / "missing.joblib") is None
    (tmp_path / "junk.joblib").write_bytes(b"not a model")
    assert load_predictor(tmp_path / "junk.joblib") is None


def _round_and_final():
    spec = ExperimentSpec(prompt="Rate {{x}}", domain="support", models=[{"id": "m1"}],
                          test_cases=[{"id": "t"}])
    variations = (Variation(variation_id="c", name="control", prompt="Rate {{x}}",
                            is_control=True),
                  Variation(variation_id="v", name="v1", prompt="You are an expert. Rate {{x}}",
                            patterns=("role",)))
    round_ = VariationGenerated(experiment_id="e", variations=variations, spec=spec)
    final = AnalysisReady(experiment_id="e", final=True, domain="support", variations=(
        VariationResult(variation_id="c", name="control", is_control=True, n=10, mean=0.4,
                        by_model={"m1": {"n": 10, "mean": 0.4, "std": 0.1}}),
        VariationResult(variation_id="v", name="v1", n=10, mean=0.7,
                        by_model={"m1": {"n": 10, "mean": 0.7, "std": 0.1}}),
    ))
    return round_, final


def test_training_rows_come_from_rounds_and_final_analyses(tmp_path):
    round_, final = _round_and_final()
    rows = rows_from_events([round_], [final])
    assert [(r.prompt, r.model, r.score, r.domain, r.group) for r in rows] == [
        ("Rate {{x}}", "m1", 0.4, "support", "e"),
        ("You are an expert. Rate {{x}}", "m1", 0.7, "support", "e")]
    # the same from a `promptopt run` result file
    result = {"experiment_id": "e", "spec": {"domain": "support"},
              "rounds": [round_.model_dump(mode="json", exclude={"spec"})],
              "final_analyses": [final.model_dump(mode="json")]}
    (tmp_path / "r.json").write_text(json.dumps(result))
    assert rows_from_run_results([tmp_path / "r.json"]) == rows


def test_a_round_gets_predicted_scores(rows):
    round_, _ = _round_and_final()
    labelled = with_predictions(round_.variations, round_.spec, Predictor.train(rows))
    assert all(0 <= v.predicted_score <= 1 for v in labelled)
    assert with_predictions(round_.variations, round_.spec, None) == list(round_.variations)
