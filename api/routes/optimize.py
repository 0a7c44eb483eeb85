"""POST /api/v1/optimize: publish a prompt for optimization (prompt-submitted)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.responses import JSONResponse

from api.auth import require_user
from api.envelope import COMMON_ERRORS, ApiError, envelope, errors
from api.experiment_policy import within_limits
from api.routes import API_PREFIX
from api.routes.optimize_now import (
    OptimizeNow,
    is_synchronous,
    optimize_now,
    parse,
    team_key,
)
from api.spec_body import invalid, new_experiment_id, spec_from_body
from api.store import User
from schemas.events import Owned, PromptSubmitted
from topics.catalogue import PROMPT_SUBMITTED, Topic
from topics.codec import encode

router = APIRouter(prefix=API_PREFIX, tags=["optimize"], responses=COMMON_ERRORS | errors(413))


def experiment_links(experiment_id: str) -> dict[str, str]:
    return {
        "results": f"/api/v1/test/{experiment_id}/results",
        "stream": f"/api/v1/stream/{experiment_id}",
        "stop": f"/api/v1/test/{experiment_id}/stop",
        "dashboard": f"/?experiment={experiment_id}",
    }


async def submit(request: Request, topic: Topic, event: Owned,
                 submission: PromptSubmitted) -> None:
    """Record the experiment with its owner, then publish `event`. An event over the
    broker's message limit is refused (413) before anything is recorded; if the broker
    does not take it, the record is withdrawn and the caller gets the 503."""
    encode(event, limit=request.app.state.core.kafka_max_message_bytes)  # EventTooLarge: 413
    store = request.app.state.store
    await store.record_submission(submission)
    try:
        await request.app.state.bus.publish(topic, event)
    except BaseException:
        await store.forget_submission(submission.experiment_id)
        raise


@router.post("/optimize", status_code=202, responses={200: {
    "description": "the seeds' synchronous optimization (a body without test_cases)"}})
async def optimize(
    request: Request,
    body: dict[str, Any] = Body(..., description="the seeds' {prompt, context, "
                                "optimization_goals, target_models, max_variations}: ranked "
                                "variations now (200); or an ExperimentSpec with test_cases, "
                                "or {\"config\": {...}} in the shape of an experiment file: "
                                "an experiment (202)"),
    user: User = Depends(require_user),
) -> JSONResponse:
    """Optimize a prompt. Without test cases (the seeds' body): the analysis and ranked
    variations with rationale and predictions, at once (200), runnable as an A/B test with
    POST /optimize/{optimization_id}/run. With test cases: an experiment, answered 202 at
    once (the optimizer generates variations, trials and analysis follow); follow the stream
    link for live analyses."""
    if is_synchronous(body):
        data, cached = await optimize_now(request, parse(body), user)
        return envelope(data, message="optimized", cached=cached)
    spec = within_limits(spec_from_body(body), request.app.state.core)
    experiment_id = new_experiment_id(spec)
    event = PromptSubmitted(experiment_id=experiment_id, spec=spec, team_id=user.team_id,
                            user_id=user.id)
    await submit(request, PROMPT_SUBMITTED, event, event)
    return envelope({"experiment_id": experiment_id, "optimization_id": experiment_id,
                     "status": "submitted", "links": experiment_links(experiment_id)},
                    status=202, message="experiment submitted")


@router.post("/optimize/{optimization_id}/run", status_code=201,
             responses=errors(404))
async def run_optimization(
    request: Request,
    optimization_id: str = Path(..., min_length=5, max_length=40, pattern=r"^opt-[0-9a-f]+$"),
    body: dict[str, Any] = Body(..., description="test_cases and models (ExperimentSpec "
                                "fields; budget, analysis... too) and `top`: how many of the "
                                "ranked variations to test against the original (default 3)"),
    user: User = Depends(require_user),
) -> JSONResponse:
    """An A/B test of a synchronous optimization's best variations against the original
    prompt, on your test cases and models: what POST /test/create answers (201)."""
    from api.routes.ab_tests import create_from_body

    # By the caller's team's key: another team's result is never fetched, only missed.
    found = await request.app.state.optimizations.get(team_key(user.team_id, optimization_id))
    if found is None:
        raise ApiError(404, f"optimization {optimization_id!r} not found (or expired: results "
                            "are kept for a while; POST /api/v1/optimize again)")
    body = dict(body)
    top = body.pop("top", 3)
    if not isinstance(top, int) or not 1 <= top <= 20:
        raise invalid("top", "an integer from 1 to 20")
    control = {"name": "original", "prompt": found["original_prompt"],
               "system": found["control"].get("system")}
    chosen = [{"name": f"rank-{v['rank']}", "prompt": v["prompt"], "system": v["system"]}
              for v in found["optimized_variations"][:top]]
    request_body = found["request"]
    body.setdefault("name", f"optimization {optimization_id}")
    body.setdefault("goals", request_body["optimization_goals"])
    body.setdefault("domain", OptimizeNow.model_validate(request_body).resolved()[1])
    body["variations"] = [control, *chosen]
    return await create_from_body(request, body, user)
