"""The FastAPI app: REST under /api/v1, SSE streams, the dashboard, /health /ready /metrics.

    app = create_app(ApiSettings(), core=get_settings())

Servers are reached through two small interfaces (api.store.Store for PostgreSQL, api.bus.Bus
for Kafka); both connect lazily, so the app starts while a server is away and answers 503
for what needs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.auth import Authenticator
from api.body_limit import BodyLimit
from api.bus import Bus, BusUnavailable, EventTooLarge, KafkaBus
from api.envelope import ApiError, error_response, install_error_handlers
from api.log_redaction import install as redact_access_log
from api.postgres_store import PostgresStore
from api.ratelimit import RateLimiter
from api.readiness import Check, MongoPing
from api.request_metrics import RequestMetrics
from api.routes import (
    API_PREFIX,
    ab_tests,
    analysis,
    dashboard,
    docs,
    health,
    me,
    optimize,
    patterns,
    stream,
    test_trials,
)
from api.routes.analysis import PredictorFile
from api.routes.dashboard import STATIC
from api.security_headers import SecurityHeaders
from api.settings import ApiSettings
from api.store import Store, StoreRejected, StoreUnavailable
from api.trial_results import MongoTrialResults, TrialResults
from promptopt.redis_cache import RedisCache, SharedStore
from promptopt.settings import Settings, get_settings

log = logging.getLogger("promptopt.api")


def create_app(
    settings: ApiSettings | None = None,
    *,
    core: Settings | None = None,
    store: Store | None = None,
    bus: Bus | None = None,
    checks: Mapping[str, Check] | None = None,
    limiter: RateLimiter | None = None,
    optimizations: SharedStore | None = None,
    trial_results: TrialResults | None = None,
) -> FastAPI:
    """The API app. `store`, `bus` and `checks` default to PostgreSQL, Kafka and the three
    servers' readiness checks from `core` settings; tests may pass their own, and the
    in-process `limiter` of failed authentications per client address. `optimizations`
    (default: Redis at core.redis_url) keeps synchronous optimization results;
    `trial_results` (default: MongoDB at core.mongo_uri) serves results per test case."""
    settings = settings or ApiSettings()
    core = core or get_settings()
    redact_access_log()  # the stream's ?key= stays out of the access log
    store = store if store is not None else PostgresStore(core.postgres_dsn)
    bus = bus if bus is not None else KafkaBus(core.kafka_bootstrap)
    mongo: MongoPing | None = None
    if checks is None:
        mongo = MongoPing(core.mongo_uri, settings.check_timeout_s)
        checks = {"kafka": bus.check, "postgres": store.ping, "mongo": mongo}
    if trial_results is None:
        trial_results = MongoTrialResults(core.mongo_uri, core.mongo_db,
                                          timeout_s=settings.check_timeout_s)
    if optimizations is None:
        optimizations = RedisCache(core.redis_url, "optimization",
                                   ttl_s=core.optimization_cache_ttl_s, prefix=core.cache_prefix)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.open()
        await bus.start()
        try:
            yield
        finally:
            await bus.stop()
            await store.close()
            await optimizations.close()
            await trial_results.close()
            if mongo is not None:
                await mongo.close()

    app = FastAPI(title="promptopt", version="0.1.0", lifespan=lifespan,
                  docs_url=None, openapi_url=f"{API_PREFIX}/openapi.json", redoc_url=None)
    app.state.settings = settings
    app.state.core = core
    app.state.store = store
    app.state.optimizations = optimizations
    app.state.trial_results = trial_results
    app.state.bus = bus
    app.state.checks = dict(checks)
    app.state.auth = Authenticator(store, settings, failures=limiter or RateLimiter())
    app.state.predictor = PredictorFile(settings.predictor_path)
    app.state.started = time.monotonic()

    install_error_handlers(app)

    @app.exception_handler(StoreUnavailable)
    async def _store_down(request: Request, err: StoreUnavailable) -> JSONResponse:
        log.warning("store unavailable: %s", err)
        return error_response(ApiError(503, "the database is unavailable; try again shortly",
                                       details={"postgres": str(err)},
                                       headers={"Retry-After": "5"}))

    @app.exception_handler(StoreRejected)
    async def _rejected(request: Request, err: StoreRejected) -> JSONResponse:
        return error_response(ApiError(422, str(err)))

    @app.exception_handler(EventTooLarge)
    async def _too_large(request: Request, err: EventTooLarge) -> JSONResponse:
        # Never a 503 with Retry-After: the same request can never succeed.
        limit = f"the {err.limit} bytes" if err.limit else "what"
        return error_response(ApiError(
            413, f"the experiment makes an event of {err.size} bytes, over {limit} the "
                 "broker takes in one message; send fewer or smaller test cases",
            details={"event_bytes": err.size, "max_event_bytes": err.limit or None}))

    @app.exception_handler(BusUnavailable)
    async def _bus_down(request: Request, err: BusUnavailable) -> JSONResponse:
        log.warning("bus unavailable: %s", err)
        return error_response(ApiError(503, "Kafka is unavailable; nothing was published",
                                       details={"kafka": str(err)},
                                       headers={"Retry-After": "5"}))

    for module in (optimize, ab_tests, test_trials, analysis, patterns, stream, health, me,
                   dashboard, docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs.mount_assets(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       max_event_bytes=core.kafka_max_message_bytes)
    app.add_middleware(RequestMetrics)  # outer: it sees every answer, its 500s included
    app.add_middleware(SecurityHeaders, docs_prefix=docs.DOCS)  # outermost: on every answer
    return app
