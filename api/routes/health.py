"""GET /health (the process is up), /ready (its servers answer), /metrics (Prometheus).

/health and /ready are open, as the seeds have them: a liveness or readiness probe carries
no key, and neither shows anything of anyone's work. /metrics needs credentials (unless
public_read); Prometheus scrapes the API's own metrics port instead (metrics_port)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.auth import reader
from api.envelope import ApiError, envelope, errors
from api.readiness import run_checks

router = APIRouter(tags=["operations"], responses=errors(503))


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    return envelope({"status": "ok",
                     "uptime_s": round(time.monotonic() - request.app.state.started, 1)})


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    checks = await run_checks(request.app.state.checks,
                              request.app.state.settings.check_timeout_s)
    down = sorted(name for name, outcome in checks.items() if not outcome["ok"])
    if down:
        raise ApiError(503, f"not ready: {', '.join(down)} down", code="not-ready",
                       details=checks)
    return envelope({"ready": True, "checks": checks})


PROMETHEUS_TEXT: dict[int | str, dict[str, Any]] = {200: {"description": "Prometheus text format",
                         "content": {"text/plain": {"schema": {"type": "string"}}}}}


@router.get("/metrics", dependencies=[Depends(reader)],
            responses=errors(401, 429) | PROMETHEUS_TEXT)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
