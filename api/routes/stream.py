"""Server-sent events from analysis-ready: GET /api/v1/stream[/{experiment_id}].

Each connection gets its own Kafka consumer from the earliest offset, so a viewer first
receives the current state (the latest analysis of each experiment round), then every new
analysis as the scorer publishes it. Event name "analysis", data the AnalysisReady JSON,
id "<experiment>:<round>:<seq>"; once the current state is sent, one event "ready"
({"backlog": n}), so a viewer knows when what it shows is the present (the dashboard says
"live" only then: the response's start is not that moment, the backlog comes after it); a
comment every sse_ping_s keeps proxies from closing an idle stream. The consumer is closed
when the client goes away.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.auth import stream_reader
from api.bus import AnalysisFeed, CaughtUp
from api.envelope import COMMON_ERRORS, errors
from api.request_metrics import OPEN_STREAMS
from api.routes import API_PREFIX
from api.routes.ab_tests import EXPERIMENT_ID, unknown_experiment
from api.store import User

SSE: dict[int | str, dict[str, Any]] = {
    200: {"description": "server-sent events: `analysis`, data an AnalysisReady; `ready`, "
                 "data {\"backlog\": n}, once the current state is sent",
          "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
router = APIRouter(prefix=f"{API_PREFIX}/stream", tags=["stream"],
                   responses=COMMON_ERRORS | errors(404) | SSE)


async def sse_events(feed: AnalysisFeed) -> AsyncIterator[ServerSentEvent]:
    OPEN_STREAMS.inc()
    try:
        async for analysis in feed:
            if isinstance(analysis, CaughtUp):
                yield ServerSentEvent(data=json.dumps({"backlog": analysis.backlog}),
                                      event="ready")
                continue
            yield ServerSentEvent(
                data=analysis.model_dump_json(), event="analysis",
                id=f"{analysis.experiment_id}:{analysis.round}:{analysis.seq}")
    finally:
        OPEN_STREAMS.dec()
        await feed.close()


async def open_stream(request: Request, experiment_id: str | None,
                      team: str | None) -> EventSourceResponse:
    # Opened before the response starts, so "Kafka is down" is a 503 in the envelope
    # rather than a stream that ends at once.
    feed = await request.app.state.bus.follow(experiment_id, team)
    return EventSourceResponse(
        sse_events(feed), ping=request.app.state.settings.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(feed.close),  # also when the stream never started
    )


@router.get("")
async def stream_all(request: Request,
                     user: User = Depends(stream_reader)) -> EventSourceResponse:
    """Every analysis of the caller's team (an admin's: of every team)."""
    return await open_stream(request, None, user.scope)


@router.get("/{experiment_id}")
async def stream_experiment(request: Request, experiment_id: str = EXPERIMENT_ID,
                            user: User = Depends(stream_reader)) -> EventSourceResponse:
    """One experiment's analyses; 404 unless it is the caller's team's."""
    if await request.app.state.store.experiment(experiment_id, user.scope) is None:
        raise unknown_experiment(experiment_id)
    # The owner was checked by query just now; the feed filters by the team as well, so
    # an id reused by another team's events on the topic shows nothing of theirs.
    return await open_stream(request, experiment_id, user.scope)
