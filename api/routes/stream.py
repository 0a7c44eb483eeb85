"""Server-sent events from analysis-ready: GET /api/v1/stream[/{experiment_id}].

Each connection gets its own Kafka consumer from the earliest offset, so a viewer first
receives the current state (the latest analysis of each experiment round), then every new
analysis as the scorer publishes it. Event name "analysis", data the AnalysisReady JSON,
id "<experiment>:<round>:<seq>"; a comment every sse_ping_s keeps proxies from closing an
idle stream. The consumer is closed when the client goes away.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Path, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from api.auth import stream_reader
from api.bus import AnalysisFeed
from api.request_metrics import OPEN_STREAMS
from api.routes import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/stream", tags=["stream"],
                   dependencies=[Depends(stream_reader)])


async def sse_events(feed: AnalysisFeed) -> AsyncIterator[ServerSentEvent]:
    OPEN_STREAMS.inc()
    try:
        async for analysis in feed:
            yield ServerSentEvent(
                data=analysis.model_dump_json(), event="analysis",
                id=f"{analysis.experiment_id}:{analysis.round}:{analysis.seq}")
    finally:
        OPEN_STREAMS.dec()
        await feed.close()


async def open_stream(request: Request, experiment_id: str | None) -> EventSourceResponse:
    # Opened before the response starts, so "Kafka is down" is a 503 in the envelope
    # rather than a stream that ends at once.
    feed = await request.app.state.bus.follow(experiment_id)
    return EventSourceResponse(
        sse_events(feed), ping=request.app.state.settings.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        background=BackgroundTask(feed.close),  # also when the stream never started
    )


@router.get("")
async def stream_all(request: Request) -> EventSourceResponse:
    return await open_stream(request, None)


@router.get("/{experiment_id}")
async def stream_experiment(
    request: Request,
    experiment_id: str = Path(..., min_length=1, max_length=100),
) -> EventSourceResponse:
    return await open_stream(request, experiment_id)
