"""Ranked variations of a prompt without trials: what `promptopt optimize` prints and the
synchronous POST /api/v1/optimize answers (the seeds' optimize contract)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from agents.optimizer.analysis import analyze_prompt
from agents.optimizer.generation import Base, generate_round
from agents.optimizer.meta import Scored
from agents.optimizer.model_format import optimize_for_model
from agents.optimizer.predictor import Predictor, features
from agents.optimizer.services import OptimizerServices, close_services
from agents.patterns.learning import pooled_posterior
from schemas.experiment import ExperimentSpec


def ranked_variations(text: str, system: str | None, goals: Sequence[str],
                      models: Sequence[str], domain: str, n: int, stats: Mapping[str, Any],
                      predictor: Predictor | None, optimizer_model: str | None = None, *,
                      settings: Any = None) -> dict[str, Any]:
    """The prompt's analysis and `n` variations ranked (by predicted score with a trained
    predictor, else by measured pattern success, then by the analysis), each with its
    rationale, predicted score, confidence and expected improvement over the control.

    Raises ValueError for inputs an experiment would refuse. With `optimizer_model`, the
    meta-optimizer proposes candidates too: an LLM call, made with asyncio.run, so call this
    from a thread with no running loop (the API runs it in its thread pool)."""
    spec = ExperimentSpec(
        prompt=text, system=system, domain=domain, goals=tuple(goals), n_variations=n,
        models=[{"id": m} for m in models], test_cases=[{"id": "example"}],
        optimizer_model={"id": optimizer_model} if optimizer_model else None)
    analysis = analyze_prompt(text, system, models=models)
    experiment_id = "optimize-" + hashlib.sha256(f"{system}\x1f{text}".encode()).hexdigest()[:10]
    base = Base(text, system)
    services = OptimizerServices(settings=settings)
    meta = services.meta_for(spec)

    async def propose() -> list[Any]:
        if meta is None:
            return []
        try:
            return await meta.propose(base, analysis, [Scored(text, None)], spec.goals,
                                      (n + 1) // 2)
        finally:
            await close_services(services)

    proposals = asyncio.run(propose())
    variations = generate_round(spec, experiment_id, stats, base=base, fixes=analysis.fixes(),
                                extra_candidates=proposals)
    model = predictor

    predictions: dict[str, tuple[float, float]] = {}
    if model is not None:
        rows = [features(v.prompt, v.system, v.patterns, m, domain)
                for v in variations for m in models]
        flat = model.predict_many(rows)
        for i, v in enumerate(variations):
            mine = flat[i * len(models):(i + 1) * len(models)]
            predictions[v.variation_id] = (sum(p.score for p in mine) / len(mine),
                                           sum(p.confidence for p in mine) / len(mine))
    control = variations[0]
    control_score = predictions.get(control.variation_id, (None, 0.0))[0]

    def entry(v) -> dict[str, Any]:
        a = analyze_prompt(v.prompt, v.system, tokens=False)
        score, confidence = predictions.get(v.variation_id, (None, 0.0))
        success = [pooled_posterior(stats, p, domain, models).mean for p in v.patterns]
        return {
            "name": v.name, "prompt": v.prompt, "system": v.system, "is_control": v.is_control,
            "patterns": list(v.patterns), "rewrites": list(v.rewrites), "rationale": v.rationale,
            "predicted_score": None if score is None else round(score, 4),
            "confidence": round(confidence, 3),
            "expected_improvement": None if score is None or control_score is None
            else round(score - control_score, 4),
            "pattern_success": round(sum(success) / len(success), 4) if success else None,
            "clarity": a.clarity, "specificity": a.specificity,
            "issues": sorted(a.issue_codes),
        }

    entries = [entry(v) for v in variations[1:]]
    # With a predictor: by predicted score. Without: by measured pattern success, then by
    # how much clearer and more specific the analysis finds the rewrite.
    entries.sort(key=lambda e: (-(e["predicted_score"] or 0), -(e["pattern_success"] or 0.5),
                                -(e["clarity"] + e["specificity"]), e["name"]))
    for rank, e in enumerate(entries, 1):
        e["rank"] = rank
    for_model = {}
    for m in models:
        formatted = optimize_for_model(text, system, m)
        for_model[m] = {"family": formatted.family, "prompt": formatted.prompt,
                        "system": formatted.system, "rewrites": list(formatted.rewrites)}
    return {
        "analysis": analysis.to_json(),
        "control": entry(control),
        "for_model": for_model,
        "variations": entries,
        "predictor": model.meta if model else None,
        "ranked_by": "predicted_score" if model else "pattern_success, then analysis",
    }
