"""POST /api/v1/optimize: publish a prompt for optimization (prompt-submitted)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from api.auth import require_user
from api.envelope import envelope
from api.spec_body import new_experiment_id, spec_from_body
from api.store import User
from api.routes import API_PREFIX
from schemas.events import PromptSubmitted
from topics.catalogue import PROMPT_SUBMITTED

router = APIRouter(prefix=API_PREFIX, tags=["optimize"])


def experiment_links(experiment_id: str) -> dict[str, str]:
    return {
        "results": f"/api/v1/test/{experiment_id}/results",
        "stream": f"/api/v1/stream/{experiment_id}",
        "stop": f"/api/v1/test/{experiment_id}/stop",
        "dashboard": f"/?experiment={experiment_id}",
    }


@router.post("/optimize", status_code=202)
async def optimize(
    request: Request,
    body: dict[str, Any] = Body(..., description="an ExperimentSpec, or {\"config\": {...}} "
                                "in the shape of an experiment file"),
    user: User = Depends(require_user),
) -> JSONResponse:
    """Optimize a prompt: the optimizer generates variations, trials and analysis follow.
    Answers 202 at once; follow the stream link for live analyses."""
    spec = spec_from_body(body)
    experiment_id = new_experiment_id(spec)
    await request.app.state.bus.publish(PROMPT_SUBMITTED, PromptSubmitted(
        experiment_id=experiment_id, spec=spec, submitted_by=user.id))
    return envelope({"experiment_id": experiment_id, "status": "submitted",
                     "links": experiment_links(experiment_id)}, status=202)
