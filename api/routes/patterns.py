"""The pattern library: search (ranked by relevance and measured success), apply, template.

The library is imported on first use: its search index pulls in scikit-learn, which the
rest of the API does not need at start-up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_user
from api.envelope import COMMON_ERRORS, ApiError, envelope, errors
from api.routes import API_PREFIX
from api.store import StoreUnavailable
from schemas.bounds import ID_PATTERN, LongText, Prompt, ShortText

router = APIRouter(prefix=f"{API_PREFIX}/patterns", tags=["patterns"],
                   dependencies=[Depends(require_user)],
                   responses=COMMON_ERRORS | errors(404, 413))

PATTERN_ID = Path(..., min_length=1, max_length=100, pattern=ID_PATTERN)


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern_id: str = Field(min_length=1, max_length=100, pattern=ID_PATTERN)
    prompt: Prompt
    system: LongText | None = None
    values: dict[ShortText, LongText] = Field(default_factory=dict, max_length=50,
                                              description="placeholder -> value")
    domain: ShortText = "general"


TEXT: dict[str, Any] = {"max_length": 500, "pattern": r"^[^\x00]*$"}


@router.get("/search")
async def search_patterns(
    request: Request,
    query: str = Query("", **TEXT, description="what the prompt should do better"),
    q: str = Query("", **TEXT, description="the same as `query` (kept for older clients)"),
    domain: str | None = Query(None, max_length=100, pattern=r"^[^\x00]*$"),
    type_: str | None = Query(None, alias="type", max_length=100, pattern=r"^[^\x00]*$",
                              description="only patterns of this type"),
    limit: int = Query(20, ge=1, le=100),
) -> JSONResponse:
    """Patterns ranked by text relevance times measured success (PostgreSQL's pattern
    statistics). Without the database the ranking is by relevance alone, and meta says so.
    `data` stays the ranked list; the seeds' total_count (matches before the limit) is in
    meta beside count, and each hit carries their success_rate and use_cases."""
    from agents.patterns.library import search

    meta: dict[str, Any] = {"stats": "measured"}
    try:
        stats = await request.app.state.store.pattern_stats()
    except StoreUnavailable:
        stats, meta["stats"] = {}, "unavailable"
    hits = await run_in_threadpool(search, query or q, domain=domain, stats=stats, limit=1000)
    if type_ is not None:
        hits = [h for h in hits if h.pattern.type == type_]
    return envelope([h.to_json() for h in hits[:limit]], count=min(limit, len(hits)),
                    total_count=len(hits), limit=limit, **meta)


@router.post("/apply")
async def apply(body: ApplyRequest) -> JSONResponse:
    """Rewrite a prompt with one pattern."""
    from agents.patterns.library import PatternNotApplicable, PatternNotFound, apply_pattern

    try:
        applied = apply_pattern(body.pattern_id, body.prompt, system=body.system,
                                values=body.values, domain=body.domain)
    except PatternNotFound as err:
        raise ApiError(404, str(err)) from None
    except PatternNotApplicable as err:
        raise ApiError(422, str(err), code="pattern-not-applicable") from None
    return envelope({"pattern_id": body.pattern_id, "prompt": applied.prompt,
                     "system": applied.system})


@router.get("/{pattern_id}/template")
async def template(pattern_id: str = PATTERN_ID) -> JSONResponse:
    """A pattern's template, placeholders, defaults and an example."""
    from agents.patterns.library import PatternNotFound, pattern_template

    try:
        return envelope(pattern_template(pattern_id))
    except PatternNotFound as err:
        raise ApiError(404, str(err)) from None
