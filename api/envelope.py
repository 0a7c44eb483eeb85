"""The standard response envelope and the errors that fill it.

Every JSON response is the seeds' envelope plus ours: {"success", "data", "error",
"message", "timestamp", "request_id", "meta"}; meta carries the request id again (ours),
processing_time_ms and api_version. The request id is also the X-Request-ID header, the
version X-API-Version. Bad input is a 4xx in the envelope with a message naming the field,
never a 500 with a traceback.
"""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")
# perf_counter() when the request arrived (set by api.request_metrics), for processing_time_ms.
REQUEST_STARTED: ContextVar[float | None] = ContextVar("request_started", default=None)
API_VERSION = "v1"

HTTP_CODES = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
              405: "method-not-allowed", 409: "conflict", 413: "too-large",
              415: "unsupported-media-type", 422: "validation-error", 429: "rate-limited",
              501: "not-implemented", 503: "unavailable"}


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")  # counts and notes some endpoints add

    request_id: str
    processing_time_ms: float | None = None
    api_version: str = API_VERSION


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class Envelope(BaseModel):
    """A success: `data` is the endpoint's answer."""

    success: bool
    data: Any = None
    error: None = None
    message: str = "ok"
    timestamp: datetime
    request_id: str
    meta: Meta


class ErrorEnvelope(BaseModel):
    """A failure: `error` says what went wrong and, for a 4xx, which field; `message` is
    the error's message again."""

    success: bool
    data: None = None
    error: ErrorBody
    message: str
    timestamp: datetime
    request_id: str
    meta: Meta


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each the ErrorEnvelope."""
    what = {400: "malformed request (a body that is not text, ...)",
            401: "missing or invalid credentials",
            404: "unknown (or another team's)", 413: "body or event too large",
            422: "invalid field (named in the message and details)",
            429: "rate limited (Retry-After says when to come back)",
            503: "a server it needs is down (Retry-After)"}
    return {s: {"model": ErrorEnvelope, "description": what.get(s, HTTP_CODES.get(s, ""))}
            for s in statuses}


# What any authenticated endpoint may answer besides its own success.
COMMON_ERRORS = errors(400, 401, 422, 429, 503)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


class ApiError(Exception):
    """An error the client should see: its status, a stable code and a readable message."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or HTTP_CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers or {}


def processing_time_ms() -> float | None:
    started = REQUEST_STARTED.get()
    return None if started is None else round((time.perf_counter() - started) * 1000, 2)


def envelope(data: Any = None, *, status: int = 200, error: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, message: str | None = None,
             **meta: Any) -> JSONResponse:
    request_id = REQUEST_ID.get()
    body = {
        "success": error is None,
        "data": data,
        "error": error,
        "message": message or (error["message"] if error else "ok"),
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"),
        "request_id": request_id,
        "meta": {"request_id": request_id, "processing_time_ms": processing_time_ms(),
                 "api_version": API_VERSION, **meta},
    }
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def error_response(err: ApiError) -> JSONResponse:
    return envelope(None, status=err.status, headers=err.headers,
                    error={"code": err.code, "message": err.message, "details": err.details})


def field_errors(errors: list[dict[str, Any]], *, drop: tuple[str, ...] = ("body",)) -> ApiError:
    """A 422 from pydantic errors: the message names the first field, details list them all."""
    details = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        if loc and loc[0] in drop:
            loc = loc[1:]
        where = ".".join(loc) or "body"
        message = e.get("msg", "invalid").removeprefix("Value error, ")
        if e.get("type") == "json_invalid":
            where, message = "body", "request body is not valid JSON"
        details.append({"field": where, "message": message, "type": e.get("type", "")})
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return ApiError(422, f"{first['field']}: {first['message']}{more}", details=details)


def from_validation_error(err: ValidationError, *, prefix: str = "") -> ApiError:
    """A pydantic ValidationError raised while parsing part of a body, as a 422."""
    errors = [{**e, "loc": (*(p for p in prefix.split(".") if p), *e["loc"])}
              for e in err.errors(include_url=False, include_context=False)]
    return field_errors(errors)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError) -> JSONResponse:
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(field_errors(list(err.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        message = err.detail if isinstance(err.detail, str) else HTTP_CODES.get(
            err.status_code, "error")
        if err.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return error_response(ApiError(err.status_code, message,
                                       headers=dict(err.headers or {})))
