"""An in-memory Store and Bus (the API's own interfaces) and a TestClient factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import hash_key
from api.bus import BusUnavailable
from api.ratelimit import RateLimiter
from api.settings import ApiSettings
from api.store import StoreUnavailable, User
from promptopt.settings import Settings
from schemas.events import AnalysisReady, Event
from topics.catalogue import Topic

KEY = "po_test-key-alice"
OTHER_KEY = "po_test-key-bob"
ALICE = User(id="usr_alice", email="alice@example.com", rate_limit_per_minute=1000)
BOB = User(id="usr_bob", email="bob@example.com", rate_limit_per_minute=1000)


@dataclass
class FakeStore:
    users: dict[str, User] = field(default_factory=lambda: {ALICE.id: ALICE, BOB.id: BOB})
    keys: dict[str, str] = field(default_factory=lambda: {hash_key(KEY): ALICE.id,
                                                          hash_key(OTHER_KEY): BOB.id})
    statuses: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    down: bool = False
    broken: bool = False
    key_lookups: int = 0

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("PostgreSQL unreachable: connection refused")
        if self.broken:
            raise RuntimeError("a bug, with a secret in its message: hunter2")

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        self._check()

    async def user_by_key_hash(self, key_hash: str) -> User | None:
        self.key_lookups += 1
        if self.down:
            raise StoreUnavailable("PostgreSQL unreachable")
        user_id = self.keys.get(key_hash)
        return self.users.get(user_id) if user_id else None

    async def user_by_id(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def create_key(self, email, key_hash, *, name="", rate_limit_per_minute=None):
        raise NotImplementedError

    async def experiment_status(self, experiment_id: str) -> str | None:
        self._check()
        return self.statuses.get(experiment_id)

    async def test_results(self, experiment_id: str, round_: int | None = None):
        self._check()
        found = self.results.get(experiment_id)
        if found is None or round_ is None:
            return found
        return {**found, "test": found["test"] if found["test"]["round"] == round_ else None}

    async def pattern_stats(self) -> dict[str, dict[str, float]]:
        self._check()
        return self.stats


class FakeFeed:
    def __init__(self, events: list[AnalysisReady]) -> None:
        self.events = events
        self.closed = 0

    async def __aiter__(self) -> AsyncIterator[AnalysisReady]:
        for event in self.events:
            yield event

    async def close(self) -> None:
        self.closed += 1


@dataclass
class FakeBus:
    published: list[tuple[str, Event]] = field(default_factory=list)
    analyses: list[AnalysisReady] = field(default_factory=list)
    feeds: list[tuple[str | None, FakeFeed]] = field(default_factory=list)
    down: bool = False

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, topic: Topic, event: Event) -> None:
        if self.down:
            raise BusUnavailable("Kafka unreachable at 127.0.0.1:1")
        self.published.append((topic.name, event))

    async def check(self) -> None:
        if self.down:
            raise BusUnavailable("Kafka metadata request failed")

    async def follow(self, experiment_id: str | None) -> FakeFeed:
        if self.down:
            raise BusUnavailable("Kafka unreachable at 127.0.0.1:1")
        feed = FakeFeed([a for a in self.analyses
                         if experiment_id is None or a.experiment_id == experiment_id])
        self.feeds.append((experiment_id, feed))
        return feed


@dataclass
class Api:
    client: TestClient
    store: FakeStore
    bus: FakeBus
    alice: User = ALICE
    bob: User = BOB
    bob_key: str = OTHER_KEY

    def auth(self, key: str = KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def make_api():
    """make_api(**api_settings) -> Api with fake store and bus; clients closed at teardown."""
    stack = contextlib.ExitStack()

    def make(*, limiter: RateLimiter | None = None, **settings: Any) -> Api:
        store, bus = FakeStore(), FakeBus()
        app = create_app(ApiSettings(**settings), core=Settings(), store=store, bus=bus,
                         checks={"kafka": bus.check, "postgres": store.ping}, limiter=limiter)
        client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
        return Api(client, store, bus)

    with stack:
        yield make


@pytest.fixture
def api(make_api) -> Api:
    return make_api()


@pytest.fixture
def spec_body():
    """spec_body(n_tests=4) -> a valid ExperimentSpec body."""
    return _spec_body


def _spec_body(n_tests: int = 4) -> dict[str, Any]:
    return {
        "name": "Unit sentiment",
        "prompt": "Classify the sentiment of this review: {{review}}",
        "test_cases": [{"id": f"t{i}", "vars": {"review": f"review {i}"},
                        "expected": "positive"} for i in range(n_tests)],
        "models": [{"id": "sim/small"}],
        "n_variations": 1,
    }
