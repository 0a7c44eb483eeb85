"""Per-request bookkeeping as pure ASGI middleware: the request id, Prometheus counters and
latency per route template and status, and the last-resort 500 envelope.

Pure ASGI rather than BaseHTTPMiddleware so server-sent event streams pass through
untouched (no buffering, disconnects reach the stream).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.envelope import (
    API_VERSION,
    REQUEST_ID,
    REQUEST_STARTED,
    ApiError,
    error_response,
    new_request_id,
)

log = logging.getLogger("promptopt.api")

REQUESTS = Counter("api_requests_total", "HTTP requests served by the API",
                   ["method", "route", "status"])
LATENCY = Histogram("api_request_duration_seconds",
                    "Time to the end of the response (SSE: the stream's lifetime)",
                    ["method", "route", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60))
OPEN_STREAMS = Gauge("api_open_streams", "Server-sent event streams currently open")


def route_label(scope: Scope) -> str:
    # The template (/api/v1/test/{experiment_id}/results), never the raw path: one series
    # per route, however many ids clients ask for.
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given if given.isprintable() and given else new_request_id()
        REQUEST_ID.set(request_id)
        status = 500
        started = False
        start = time.perf_counter()
        REQUEST_STARTED.set(start)

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", request_id.encode()),
                                      (b"x-api-version", API_VERSION.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error on %s %s [%s]", scope["method"], scope["path"],
                          request_id)
            if started:
                raise
            status = 500
            response = error_response(ApiError(500, "internal error; quote the request id",
                                               code="internal"))
            await response(scope, receive, send_with_id)
        finally:
            labels: dict[str, Any] = {"method": scope["method"], "route": route_label(scope),
                                      "status": str(status)}
            REQUESTS.labels(**labels).inc()
            LATENCY.labels(**labels).observe(time.perf_counter() - start)
