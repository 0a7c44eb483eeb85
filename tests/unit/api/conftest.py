"""An in-memory Store and Bus (the API's own interfaces) and a TestClient factory."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import create_app
from api.auth import hash_key
from api.bus import BusUnavailable, CaughtUp
from api.ratelimit import RateLimiter
from api.settings import ApiSettings
from api.store import Admission, ExperimentRef, StoreUnavailable, User
from promptopt.settings import Settings
from schemas.events import AnalysisReady, Event, PromptSubmitted
from topics.catalogue import Topic

KEY = "po_test-key-alice-0123456789"
OTHER_KEY = "po_test-key-bob-0123456789"
ADMIN_KEY = "po_test-key-admin-0123456789"
ALICE = User(id="usr_alice", email="alice@example.com", team_id="team_a",
             rate_limit_per_minute=1000)
BOB = User(id="usr_bob", email="bob@example.com", team_id="team_b",
           rate_limit_per_minute=1000)
ADMIN = User(id="usr_admin", email="admin@example.com", team_id="team_ops", role="admin",
             rate_limit_per_minute=1000)


@dataclass
class FakeStore:
    """PostgresStore's behaviour in memory: team scoping by the row's owner, the rate
    limit spent at admission (an in-process bucket standing in for rate_limit_take)."""

    users: dict[str, User] = field(default_factory=lambda: {
        u.id: u for u in (ALICE, BOB, ADMIN)})
    keys: dict[str, str] = field(default_factory=lambda: {
        hash_key(KEY): ALICE.id, hash_key(OTHER_KEY): BOB.id, hash_key(ADMIN_KEY): ADMIN.id})
    experiments: dict[str, ExperimentRef] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    tokens_valid_after: dict[str, float] = field(default_factory=dict)
    buckets: RateLimiter = field(default_factory=RateLimiter)
    recorded: list[PromptSubmitted] = field(default_factory=list)
    down: bool = False
    broken: bool = False
    key_lookups: int = 0

    def own(self, experiment_id: str, user: User = ALICE, status: str = "running") -> None:
        self.experiments[experiment_id] = ExperimentRef(experiment_id, status, user.team_id,
                                                        user.id)

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("PostgreSQL unreachable: connection refused")
        if self.broken:
            raise RuntimeError("a bug, with a secret in its message: hunter2")

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        self._check()

    def _admit(self, user: User | None) -> Admission | None:
        if user is None:
            return None
        return Admission(user, self.buckets.take(f"user:{user.id}", user.rate_limit_per_minute))

    async def admit_key(self, key_hash: str) -> Admission | None:
        self.key_lookups += 1
        if self.down:
            raise StoreUnavailable("PostgreSQL unreachable")
        user_id = self.keys.get(key_hash)
        return self._admit(self.users.get(user_id) if user_id else None)

    async def admit_subject(self, user_id: str, issued_at: float) -> Admission | None:
        if issued_at < self.tokens_valid_after.get(user_id, float("-inf")):
            return None
        return self._admit(self.users.get(user_id))

    async def record_submission(self, event: PromptSubmitted) -> None:
        self._check()
        self.recorded.append(event)
        self.experiments.setdefault(event.experiment_id, ExperimentRef(
            event.experiment_id, "submitted", event.team_id, event.user_id))

    async def forget_submission(self, experiment_id: str) -> None:
        self.experiments.pop(experiment_id, None)

    def _visible(self, experiment_id: str, team: str | None) -> ExperimentRef | None:
        found = self.experiments.get(experiment_id)
        if found is None or (team is not None and found.team_id != team):
            return None
        return found

    async def experiment(self, experiment_id: str, team: str | None) -> ExperimentRef | None:
        self._check()
        return self._visible(experiment_id, team)

    async def test_results(self, experiment_id: str, team: str | None,
                           round_: int | None = None):
        self._check()
        if self._visible(experiment_id, team) is None:
            return None
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

    async def __aiter__(self) -> AsyncIterator[AnalysisReady | CaughtUp]:
        for event in self.events:  # all of them are the backlog
            yield event
        yield CaughtUp(len(self.events))

    async def close(self) -> None:
        self.closed += 1


class MemoryCache:
    """The shared cache's contract (promptopt.redis_cache.SharedStore) in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.reads: list[tuple[str, Any]] = []  # (key, what it answered), in order

    async def get(self, key: str) -> Any | None:
        found = self.values.get(key)
        self.reads.append((key, found))
        return found

    async def set(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value, default=str))  # as Redis keeps it

    async def close(self) -> None: ...


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

    async def follow(self, experiment_id: str | None, team: str | None) -> FakeFeed:
        if self.down:
            raise BusUnavailable("Kafka unreachable at 127.0.0.1:1")
        feed = FakeFeed([a for a in self.analyses
                         if (experiment_id is None or a.experiment_id == experiment_id)
                         and (team is None or a.team_id == team)])
        self.feeds.append((experiment_id, feed))
        return feed


@dataclass
class FakeTrialResults:
    """MongoTrialResults in memory: the same filter (TrialQuery.match, the team in it),
    order, page and totals over trial documents as the MongoDB sink writes them."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False

    async def page(self, query: Any) -> Any:
        from api.trial_results import ORDER, TrialPage, TrialResultsUnavailable

        if self.down:
            raise TrialResultsUnavailable("ServerSelectionTimeoutError: 127.0.0.1:1")
        match = query.match()
        found = [d for d in self.documents if all(d.get(k) == v for k, v in match.items())]
        found.sort(key=lambda d: tuple(d.get(k) for k, _ in ORDER))
        quality = [d.get("quality_metrics") or {} for d in found]
        totals = {"trials": len(found),
                  **{s: sum(d["status"] == s for d in found)
                     for s in ("completed", "failed", "skipped")},
                  "graded": sum(q.get("score") is not None for q in quality),
                  "passed": sum(q.get("pass") is True for q in quality),
                  "cost_usd": sum(d.get("cost_usd") or 0 for d in found),
                  "judge_cost_usd": sum((q.get("judge") or {}).get("cost_usd", 0)
                                        for q in quality),
                  "judge_calls": sum((q.get("judge") or {}).get("calls", 0) for q in quality)}
        return TrialPage(found[query.offset:query.offset + query.limit], totals)

    async def close(self) -> None: ...


@dataclass
class Api:
    client: TestClient
    store: FakeStore
    bus: FakeBus
    alice: User = ALICE
    bob: User = BOB
    admin: User = ADMIN
    bob_key: str = OTHER_KEY
    admin_key: str = ADMIN_KEY
    trials: FakeTrialResults = field(default_factory=FakeTrialResults)
    optimizations: MemoryCache = field(default_factory=MemoryCache)

    def auth(self, key: str = KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def make_api():
    """make_api(**api_settings) -> Api with fake store and bus; clients closed at teardown."""
    stack = contextlib.ExitStack()

    def make(*, limiter: RateLimiter | None = None, **settings: Any) -> Api:
        store, bus, trials, cache = FakeStore(), FakeBus(), FakeTrialResults(), MemoryCache()
        app = create_app(ApiSettings(**settings), core=Settings(), store=store, bus=bus,
                         optimizations=cache, trial_results=trials,
                         checks={"kafka": bus.check, "postgres": store.ping}, limiter=limiter)
        client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
        return Api(client, store, bus, trials=trials, optimizations=cache)

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
