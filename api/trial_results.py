"""What the API reads of MongoDB: the trial documents (agents/sinks/mongo.py), one per
trial, with their grading (quality_metrics, from trial-scored) — results per test case.

As every read of a team's work (api/store.py), the caller's team goes into the query
itself: another team's documents are never fetched. A small interface, so unit tests hand
the app an in-memory one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pymongo import ASCENDING, AsyncMongoClient
from pymongo.errors import PyMongoError

# Rows in results-per-test-case order: round, test case, arm, model, repetition (and the
# trial id, so a page boundary never moves between two requests).
ORDER = [("round", ASCENDING), ("test_case_id", ASCENDING), ("variation_id", ASCENDING),
         ("model", ASCENDING), ("repetition", ASCENDING), ("_id", ASCENDING)]


class TrialResultsUnavailable(Exception):
    """MongoDB cannot be reached; the API answers 503."""


@dataclass(frozen=True)
class TrialQuery:
    experiment_id: str
    team: str | None  # None: an admin, who sees every team's (and unowned) trials
    round: int | None = None
    test_case_id: str | None = None
    variation_id: str | None = None
    status: str | None = None
    offset: int = 0
    limit: int = 100

    def match(self) -> dict[str, Any]:
        """The filter: the experiment, the caller's team, the optional narrowing."""
        found: dict[str, Any] = {"experiment_id": self.experiment_id}
        if self.team is not None:
            found["team_id"] = self.team
        for name, value in (("round", self.round), ("test_case_id", self.test_case_id),
                            ("variation_id", self.variation_id), ("status", self.status)):
            if value is not None:
                found[name] = value
        return found


@dataclass
class TrialPage:
    documents: list[dict[str, Any]] = field(default_factory=list)  # this page's
    totals: dict[str, Any] = field(default_factory=dict)  # over every matching trial


# Totals over every trial the query matches (not only the page): counts and all that was
# spent, judges included, trials that completed after an early stop too.
TOTALS = {
    "_id": None,
    "trials": {"$sum": 1},
    "completed": {"$sum": {"$cond": [{"$eq": ["$status", "completed"]}, 1, 0]}},
    "failed": {"$sum": {"$cond": [{"$eq": ["$status", "failed"]}, 1, 0]}},
    "skipped": {"$sum": {"$cond": [{"$eq": ["$status", "skipped"]}, 1, 0]}},
    # a number sorts above null, and null above a missing field (BSON order)
    "graded": {"$sum": {"$cond": [{"$gt": ["$quality_metrics.score", None]}, 1, 0]}},
    "passed": {"$sum": {"$cond": [{"$eq": ["$quality_metrics.pass", True]}, 1, 0]}},
    "cost_usd": {"$sum": "$cost_usd"},
    "judge_cost_usd": {"$sum": "$quality_metrics.judge.cost_usd"},
    "judge_calls": {"$sum": "$quality_metrics.judge.calls"},
}


class TrialResults(Protocol):
    async def page(self, query: TrialQuery) -> TrialPage:
        """The page of trial documents `query` asks for and the totals over all it
        matches; raises TrialResultsUnavailable when MongoDB cannot answer."""

    async def close(self) -> None: ...


class MongoTrialResults:
    """TrialResults on MongoDB; the client connects on the first request."""

    def __init__(self, uri: str, database: str, timeout_s: float = 5.0) -> None:
        self._uri, self._database = uri, database
        self._timeout_ms = int(timeout_s * 1000)
        self._client: AsyncMongoClient | None = None

    async def page(self, query: TrialQuery) -> TrialPage:
        if self._client is None:
            self._client = AsyncMongoClient(self._uri, serverSelectionTimeoutMS=self._timeout_ms,
                                            connectTimeoutMS=self._timeout_ms)
        trials = self._client[self._database].trial_results
        match = query.match()
        try:
            cursor = trials.find(match).sort(ORDER).skip(query.offset).limit(query.limit)
            documents = [doc async for doc in cursor]
            rows = [row async for row in await trials.aggregate([
                {"$match": match}, {"$group": TOTALS}])]
        except PyMongoError as err:
            raise TrialResultsUnavailable(f"{type(err).__name__}: {err}") from None
        totals = rows[0] if rows else {}
        totals.pop("_id", None)
        return TrialPage(documents, totals)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
