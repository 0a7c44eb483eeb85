"""A bounded schemathesis run against the API's own OpenAPI document (issue 12): every
operation, with generated valid and invalid input, must answer without a server error and
with a status, content type and body its document declares.

The app runs in process on the real PostgreSQL (its queries are part of what is fuzzed:
a NUL in a path once made PostgreSQL fail with a 500). Kafka is left out on purpose:
events are encoded and size-checked as for the broker, but not sent, so the thousands of
generated experiments do not land on topics the session's workers read.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from api.accounts import create_key
from api.auth import hash_key, new_api_key
from api.postgres_store import PostgresStore
from api.settings import ApiSettings
from promptopt.settings import Settings
from schemas.events import AnalysisReady, Event
from topics.catalogue import Topic
from topics.codec import encode

pytestmark = pytest.mark.integration

# Per operation; 15 operations, so a few hundred requests in about half a minute here.
EXAMPLES = 25


class EncodingBus:
    """Publishes nowhere: encodes each event as the broker would receive it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: Topic, event: Event) -> None:
        encode(event)

    async def check(self) -> None: ...

    async def follow(self, experiment_id: str | None, team: str | None) -> EmptyFeed:
        return EmptyFeed()


class EmptyFeed:
    async def __aiter__(self) -> AsyncIterator[AnalysisReady]:
        return
        yield

    async def close(self) -> None: ...


def _key(dsn: str) -> str:
    key = new_api_key()

    async def make() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await create_key(conn, f"fuzz-{uuid.uuid4().hex[:8]}@example.com", hash_key(key),
                             team="schemathesis", rate_limit_per_minute=0)
        finally:
            await conn.close()

    asyncio.run(make())
    return key


def trained_predictor() -> str:
    """A small trained predictor, so /predict answers (untrained, it is a 503 by design)."""
    from agents.optimizer.predictor import Measured, Predictor

    good = "You are an expert. Answer in one word: positive or negative. {{review}}"
    rows = [Measured(good if i % 2 else f"What about this {i}? {{{{review}}}}", None, (),
                     "sim/small", "classification", 0.9 if i % 2 else 0.3, 10, f"g{i}")
            for i in range(8)]
    folder = Path(tempfile.mkdtemp(prefix="fuzz-predictor-"))
    return str(Predictor.train(rows).save(folder / "predictor.joblib"))


CORE = Settings()
APP = create_app(ApiSettings(predictor_path=trained_predictor()), core=CORE,
                 store=PostgresStore(CORE.postgres_dsn), bus=EncodingBus(), checks={})
SCHEMA = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
# Invalid input too (wrong types, out-of-range values, NUL bytes in strings and paths).
SCHEMA.config.generation.update(modes=list(GenerationMode), allow_x00=True)


@pytest.fixture(scope="module")
def key(migrated) -> str:
    return _key(migrated.postgres_dsn)


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_its_document_says(case, key):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {key}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])


async def test_a_value_postgresql_refuses_is_a_store_rejection_not_unavailable(migrated):
    # The backstop behind validation: asyncpg's DataError (here a NUL that the path pattern
    # refuses first) becomes StoreRejected, which the API answers with a 422, never a 500
    # or a 503 with Retry-After (tests/unit/api/test_api_envelope.py).
    from api.store import StoreRejected

    store = PostgresStore(migrated.postgres_dsn)
    try:
        with pytest.raises(StoreRejected, match="cannot store"):
            await store.experiment("a\x00b", None)
        assert await store.experiment("no-such-experiment", None) is None  # still usable
    finally:
        await store.close()
