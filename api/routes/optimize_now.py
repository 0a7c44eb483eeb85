"""The seeds' synchronous optimize: POST /api/v1/optimize with {"prompt", "context",
"optimization_goals"} (no test cases) answers 200 at once with the prompt's analysis and its
variations ranked, each with rationale and predictions, in the seeds' fields
(optimized_variations, improvements, confidence_score, expected_improvement) beside ours.

The result is kept in the shared cache (Redis, promptopt.redis_cache) for
optimization_cache_ttl_s, under a key with the caller's team in it (team_key): the same
request again is answered from it (meta.cached), and POST /api/v1/optimize/{optimization_id}/run
turns it into an A/B test of the ranked variations on the caller's test cases and models.
Every read goes by that key, so another team's id is a key that does not exist: the same
404 on the same path as an id nobody made, and no other team's result is ever fetched into
the process (as the PostgreSQL and MongoDB reads put the team in the query, api/store.py).
An admin's lookup is by the admin's own team too: the test it creates is the admin's team's,
and a cached prompt is not "work" an admin oversees (the experiments are, in PostgreSQL).

A body with test_cases (an ExperimentSpec) or a config is the asynchronous experiment, as
before (202): see api.routes.optimize.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.envelope import ApiError, from_validation_error
from schemas.bounds import JsonObject, LongText, ModelId, Prompt, ShortText
from schemas.experiment import Goal

DEFAULT_MODELS = ["gpt-4o-mini"]


def _default_goals() -> list[Goal]:
    return ["clarity"]


class OptimizeNow(BaseModel):
    """The seeds' request body; `context` may carry domain, system, audience, task..."""

    model_config = ConfigDict(extra="forbid")

    prompt: Prompt
    context: JsonObject | LongText | None = None
    optimization_goals: list[Goal] = Field(default_factory=_default_goals, min_length=1,
                                           max_length=5)
    target_models: list[ModelId] = Field(default_factory=lambda: list(DEFAULT_MODELS),
                                         min_length=1, max_length=10)
    max_variations: int = Field(default=5, ge=1, le=20)
    system: LongText | None = None
    domain: ShortText | None = None

    def resolved(self) -> tuple[str | None, str]:
        """(system, domain): given, else from the context, else none and "general"."""
        ctx = self.context if isinstance(self.context, dict) else {}
        system = self.system or (str(ctx["system"]) if ctx.get("system") else None)
        domain = self.domain or str(ctx.get("domain") or "general")[:100]
        return system, domain


def is_synchronous(body: dict[str, Any]) -> bool:
    """The seeds' body: a prompt and only the seeds' fields. Anything else (test_cases, a
    config, any ExperimentSpec field) is an experiment, whose errors then name what it
    lacks (`test_cases: Field required`)."""
    return "prompt" in body and set(body) <= set(OptimizeNow.model_fields)


def parse(body: dict[str, Any]) -> OptimizeNow:
    try:
        return OptimizeNow.model_validate(body)
    except ValidationError as err:
        raise from_validation_error(err) from None


def optimization_id(request: OptimizeNow, team_id: str | None) -> str:
    canonical = json.dumps([team_id, request.model_dump(mode="json")], sort_keys=True)
    return "opt-" + hashlib.sha256(canonical.encode()).hexdigest()[:24]


def team_key(team_id: str, oid: str) -> str:
    """The shared cache's key of `team_id`'s optimization `oid`."""
    return f"team:{team_id}:{oid}"


def seeds_fields(ranked: dict[str, Any]) -> dict[str, Any]:
    """optimized_variations, improvements, confidence_score, expected_improvement from the
    ranked result (ours stays beside them)."""
    control = ranked["control"]
    variations = ranked["variations"]
    best = variations[0] if variations else None
    before = {i["code"] for i in ranked["analysis"]["issues"]}
    improvements = []
    if best is not None:
        for dim in ("clarity", "specificity"):
            improvements.append({"dimension": dim, "before": control[dim],
                                 "after": best[dim], "delta": round(best[dim] - control[dim], 4)})
        for code in sorted(before - set(best["issues"])):
            improvements.append({"dimension": "issue", "issue": code, "resolved": True})
    predicted = best is not None and best["predicted_score"] is not None
    return {
        "original_prompt": control["prompt"],
        "optimized_variations": [
            {"id": f"v{e['rank']}", "rank": e["rank"], "prompt": e["prompt"],
             "system": e["system"], "patterns": e["patterns"], "rationale": e["rationale"],
             "predicted_score": e["predicted_score"], "confidence": e["confidence"],
             "expected_improvement": e["expected_improvement"]}
            for e in variations],
        "improvements": improvements,
        # The trained predictor's confidence in the best variation; 0 without a predictor
        # (the ranking then rests on pattern statistics and the analysis: see ranked_by).
        "confidence_score": best["confidence"] if best is not None and predicted else 0.0,
        "expected_improvement": (best["expected_improvement"]
                                 if best is not None and predicted else None),
    }


async def optimize_now(request: Any, body: OptimizeNow, user: Any) -> tuple[dict, bool]:
    """(data, cached): the synchronous optimization, from the shared cache when it is there."""
    from agents.optimizer.ranked import ranked_variations

    app = request.app.state
    oid = optimization_id(body, user.team_id)
    cached = await app.optimizations.get(team_key(user.team_id, oid))
    if cached is not None:
        return cached, True
    system, domain = body.resolved()
    try:
        stats = await app.store.pattern_stats()
    except Exception:  # the ranking falls back to the analysis; nothing to fail over
        stats = {}
    predictor = await run_in_threadpool(app.predictor.get)
    try:
        ranked = await run_in_threadpool(
            ranked_variations, body.prompt, system, body.optimization_goals,
            body.target_models, domain, body.max_variations, stats, predictor, None,
            settings=app.core)
    except ValueError as err:
        raise ApiError(422, str(err).splitlines()[0]) from None
    data = {"optimization_id": oid, "status": "completed", **seeds_fields(ranked),
            **ranked, "request": body.model_dump(mode="json"), "team_id": user.team_id,
            "links": {"run": f"/api/v1/optimize/{oid}/run"}}
    await app.optimizations.set(team_key(user.team_id, oid), data)
    return data, False
