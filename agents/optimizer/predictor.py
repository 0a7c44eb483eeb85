"""Performance prediction: expected score of a prompt on a model, learned (scikit-learn)
from measured trial results, persisted and reloaded.

Features are the prompt's analysis (clarity, specificity and the features behind them,
issues, length), the patterns it uses, the model and the domain. The regressor is a random
forest: it copes with few rows and mixed features, and the spread of its trees gives each
prediction a confidence.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.optimizer.analysis import analyze_prompt
from agents.patterns.library import identify_patterns
from schemas.events import AnalysisReady, VariationGenerated

FORMAT_VERSION = 1
DEFAULT_PATH = Path(".promptopt/predictor.joblib")


@dataclass(frozen=True)
class Measured:
    """One prompt's measured mean score on one model: a training row."""

    prompt: str
    system: str | None
    patterns: tuple[str, ...]
    model: str
    domain: str
    score: float
    n: int = 1
    group: str = ""  # experiment (or base prompt): rows of a group stay on one side of a split


@dataclass(frozen=True)
class Prediction:
    score: float
    confidence: float  # 1 when the trees agree, 0 when they spread over the whole scale
    spread: float  # standard deviation across trees


def features(prompt: str, system: str | None, patterns: Iterable[str], model: str,
             domain: str) -> dict[str, float | str]:
    a = analyze_prompt(prompt, system, tokens=False)
    row: dict[str, float | str] = {
        "clarity": a.clarity,
        "specificity": a.specificity,
        "log_words": math.log1p(a.words),
        "issues": float(len(a.issues)),
        "model": model,
        "domain": domain,
    }
    row.update({f"clarity.{k}": v for k, v in a.clarity_features.items()})
    row.update({f"specificity.{k}": v for k, v in a.specificity_features.items()})
    row.update({f"issue.{i.code}": 1.0 for i in a.issues})
    used = set(patterns) | set(a.patterns) | set(identify_patterns(prompt, system))
    row.update({f"pattern.{p}": 1.0 for p in sorted(used)})
    return row


class Predictor:
    def __init__(self, pipeline: Any, meta: dict[str, Any]) -> None:
        self.pipeline = pipeline
        self.meta = meta

    @classmethod
    def train(cls, rows: Sequence[Measured], *, seed: int = 0) -> Predictor:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.pipeline import make_pipeline

        if len(rows) < 5:
            raise ValueError(f"need at least 5 measured prompts to train, got {len(rows)}")
        x = [features(r.prompt, r.system, r.patterns, r.model, r.domain) for r in rows]
        y = [r.score for r in rows]
        pipeline = make_pipeline(
            DictVectorizer(sparse=False),
            RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=seed,
                                  n_jobs=1),
        )
        pipeline.fit(x, y, randomforestregressor__sample_weight=[max(1, r.n) for r in rows])
        meta = {"version": FORMAT_VERSION, "rows": len(rows), "mean": sum(y) / len(y),
                "models": sorted({r.model for r in rows}),
                "domains": sorted({r.domain for r in rows})}
        return cls(pipeline, meta)

    def predict(self, prompt: str, system: str | None, patterns: Iterable[str], model: str,
                domain: str) -> Prediction:
        return self.predict_many([features(prompt, system, patterns, model, domain)])[0]

    def predict_many(self, rows: Sequence[dict[str, float | str]]) -> list[Prediction]:
        """Predictions for rows of `features(...)`, one pass of each tree over all of them."""
        import numpy as np

        x = self.pipeline[0].transform(list(rows))
        per_tree = np.stack([tree.predict(x) for tree in self.pipeline[-1].estimators_])
        means, spreads = per_tree.mean(axis=0), per_tree.std(axis=0)
        # Scores live in [0, 1]: a spread of 0.25 across trees means they do not agree.
        return [Prediction(float(np.clip(m, 0, 1)), round(max(0.0, 1 - float(sd) / 0.25), 3),
                           float(sd)) for m, sd in zip(means, spreads, strict=True)]

    def save(self, path: str | Path) -> Path:
        import joblib

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump({"meta": self.meta, "pipeline": self.pipeline}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        import joblib

        data = joblib.load(Path(path))
        if data.get("meta", {}).get("version") != FORMAT_VERSION:
            raise ValueError(f"{path}: not a promptopt predictor (version {FORMAT_VERSION})")
        return cls(data["pipeline"], data["meta"])


def rows_from_events(rounds: Iterable[VariationGenerated],
                     finals: Iterable[AnalysisReady]) -> list[Measured]:
    """Training rows from an experiment's rounds and their final analyses: one row per
    variation and model, its mean measured score."""
    prompts = {v.variation_id: (v, r.spec.domain if r.spec else "general")
               for r in rounds for v in r.variations}
    return _rows(prompts, [(a.experiment_id, a.model_dump(mode="json")) for a in finals])


def rows_from_run_results(paths: Iterable[str | Path]) -> list[Measured]:
    """Training rows from `promptopt run` result files (JSON)."""
    rows: list[Measured] = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        domain = data.get("spec", {}).get("domain", "general")
        prompts = {v["variation_id"]: (_Variation(v), domain)
                   for r in data.get("rounds", []) for v in r["variations"]}
        rows += _rows(prompts, [(data["experiment_id"], a) for a in data["final_analyses"]])
    return rows


class _Variation:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.prompt, self.system = raw["prompt"], raw.get("system")
        self.patterns = tuple(raw.get("patterns", ()))


def _rows(prompts: dict[str, tuple[Any, str]],
          analyses: Iterable[tuple[str, dict[str, Any]]]) -> list[Measured]:
    rows = []
    for experiment_id, analysis in analyses:
        for result in analysis["variations"]:
            found = prompts.get(result["variation_id"])
            if found is None:
                continue
            variation, domain = found
            for model, stats in (result.get("by_model") or {}).items():
                if stats.get("mean") is None or not stats.get("n"):
                    continue
                rows.append(Measured(variation.prompt, variation.system, variation.patterns,
                                     model, analysis.get("domain") or domain,
                                     float(stats["mean"]), int(stats["n"]), experiment_id))
    return rows


def evaluate(rows: Sequence[Measured], *, folds: int = 5, seed: int = 0) -> dict[str, float | None]:
    """Held-out mean absolute error of the predictor against a baseline that predicts the
    training mean, by cross-validation over groups (a prompt's variants never straddle a
    split, so the model is judged on prompts it has not seen)."""
    groups = sorted({r.group for r in rows})
    random.Random(seed).shuffle(groups)
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    errors, baseline = [], []
    for k in range(folds):
        train = [r for r in rows if fold_of[r.group] != k]
        test = [r for r in rows if fold_of[r.group] == k]
        if len(train) < 5 or not test:
            continue
        model = Predictor.train(train, seed=seed)
        mean = sum(r.score for r in train) / len(train)
        predicted = model.predict_many(
            [features(r.prompt, r.system, r.patterns, r.model, r.domain) for r in test])
        for r, p in zip(test, predicted, strict=True):
            errors.append(abs(p.score - r.score))
            baseline.append(abs(mean - r.score))
    mae, base = sum(errors) / len(errors), sum(baseline) / len(baseline)
    report: dict[str, float | None] = {"rows": len(rows), "groups": len(groups), "folds": folds,
            "mae": round(mae, 4), "baseline_mae": round(base, 4),
            "error_ratio": round(mae / base, 3) if base else None}
    return report
