"""`promptopt optimize`: ranked variations without trials; training the predictor."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from promptopt.commands.optimize import app

runner = CliRunner()
PROMPT = "What do you think about this review? {{review}}"


def _ok(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_optimize_without_a_predictor_ranks_by_analysis(tmp_path):
    out = _ok(runner.invoke(app, [PROMPT, "-g", "clarity", "-g", "accuracy", "-n", "3",
                                  "--stats", _empty_stats(tmp_path)]))
    assert {"analysis", "control", "variations", "ranked_by", "for_model"} <= set(out)
    assert [v["rank"] for v in out["variations"]] == [1, 2, 3]
    for v in out["variations"]:
        assert "{{review}}" in v["prompt"] and v["rationale"] and v["patterns"]
        assert {"predicted_score", "confidence", "expected_improvement"} <= set(v)


def _empty_stats(tmp_path) -> str:
    path = tmp_path / "stats.json"
    path.write_text("{}")
    return str(path)


def test_train_then_optimize_with_predictions(tmp_path):
    path = tmp_path / "predictor.joblib"
    trained = _ok(runner.invoke(app, ["--train-simulated", "12", "--predictor", str(path)]))
    held = trained["held_out"]
    assert trained["trained_on"] > 50 and path.exists()
    assert held["mae"] > 0 and held["baseline_mae"] > 0
    out = _ok(runner.invoke(app, [PROMPT, "-m", "sim/small", "-n", "3", "--predictor", str(path),
                                  "--stats", _empty_stats(tmp_path)]))
    assert out["ranked_by"] == "predicted_score"
    scores = [v["predicted_score"] for v in out["variations"]]
    assert scores == sorted(scores, reverse=True)
    control = out["control"]["predicted_score"]
    for v in out["variations"]:
        assert abs(v["expected_improvement"] - (v["predicted_score"] - control)) < 1e-3
        assert 0 <= v["confidence"] <= 1


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    for args in (["tiny"], [PROMPT, "-g", "speed"], [PROMPT, "-n", "0"], [],
                 [PROMPT, "--predictor", str(tmp_path / "missing.joblib")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
