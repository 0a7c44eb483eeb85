"""POST /api/v1/optimize: publish a prompt for optimization (prompt-submitted)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import require_user
from api.envelope import COMMON_ERRORS, envelope, errors
from api.experiment_policy import within_limits
from api.routes import API_PREFIX
from api.spec_body import new_experiment_id, spec_from_body
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


@router.post("/optimize", status_code=202)
async def optimize(
    request: Request,
    body: dict[str, Any] = Body(..., description="an ExperimentSpec, or {\"config\": {...}} "
                                "in the shape of an experiment file"),
    user: User = Depends(require_user),
) -> JSONResponse:
    """Optimize a prompt: the optimizer generates variations, trials and analysis follow.
    Answers 202 at once; follow the stream link for live analyses."""
    spec = within_limits(spec_from_body(body), request.app.state.core)
    experiment_id = new_experiment_id(spec)
    event = PromptSubmitted(experiment_id=experiment_id, spec=spec, team_id=user.team_id,
                            user_id=user.id)
    await submit(request, PROMPT_SUBMITTED, event, event)
    return envelope({"experiment_id": experiment_id, "status": "submitted",
                     "links": experiment_links(experiment_id)}, status=202)
