"""MongoDB sink (pymongo's async client): one document per trial, the latest analysis per
experiment round, and daily aggregates per user and team.

Trial documents are in the seeds' shape (`prompt`, `quality_metrics`, `performance_metrics`,
`metadata`) with our flat fields beside them, so existing queries keep working.
`quality_metrics` (score, pass, per-assertion results) arrives on trial-scored: it is $set
on the trial's document, which may come before or after its trial-completed (either upsert
creates the document). Daily aggregates (`analytics_daily`, one document per day x team x
user) are recomputed from the trial documents for every key a batch touched, never
incremented: a redelivered trial cannot count twice.

Trial documents are keyed `_id = trial_id`. The measurements that stay are those of the
copy the scorer folds: the first trial-scored of the trial (the scorer reads trial-scored's
partition in order and ignores repeated trial ids; so does this sink, keeping the first
copy of a batch). Until it is scored, the first trial-completed is shown (inserted only if
absent). Its first trial-completed is not enough: a trial re-run after a worker was killed
has two trial-completed copies, and scorer.grade (concurrent) can publish their
trial-scored in the other order, so the scorer and a first-completed document disagreed on
cost (the faults benchmark). Once scored, a document never changes again: a redelivery or
a replay whose call was a cache hit at cost 0 finds it scored and is ignored. An analysis
document is only replaced by a newer `seq`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from agents.runtime.failures import ServiceNotReady
from schemas.events import AnalysisReady, Event, TrialCompleted, TrialScored
from topics.catalogue import ANALYSIS_READY, TRIAL_COMPLETED, TRIAL_SCORED, Topic

DUPLICATE_KEY = 11000
E = TypeVar("E")


class MongoSink:
    name = "sink.mongo"
    topics = (TRIAL_COMPLETED, TRIAL_SCORED, ANALYSIS_READY)

    def __init__(self, uri: str, database: str) -> None:
        self._uri = uri
        self._database = database
        self._client: AsyncMongoClient | None = None

    async def open(self) -> None:
        self._client = AsyncMongoClient(self._uri, serverSelectionTimeoutMS=10_000)
        db = self._client[self._database]
        await db.trial_results.create_index([("experiment_id", 1), ("round", 1)])
        await db.analytics.create_index([("experiment_id", 1)])
        # Documents carry their owner (team_id, user_id): a team's reads filter on it.
        await db.trial_results.create_index([("team_id", 1), ("experiment_id", 1)])
        await db.analytics.create_index([("team_id", 1), ("experiment_id", 1)])
        await db.trial_results.create_index([("day", 1), ("team_id", 1), ("user_id", 1)])
        await db.analytics_daily.create_index([("team_id", 1), ("day", 1)])
        await db.analytics_daily.create_index([("user_id", 1), ("day", 1)])

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    @property
    def db(self):
        if self._client is None:
            raise ServiceNotReady(f"{self.name} is not open")
        return self._client[self._database]

    async def write(self, topic: Topic, events: Sequence[Event]) -> None:
        trials = [e for e in events if isinstance(e, TrialCompleted)]
        scored = [e for e in events if isinstance(e, TrialScored)]
        if trials or scored:
            trials = list(_first_copies(trials, lambda t: t.trial.trial_id))
            scored = list(_first_copies(scored, lambda s: s.trial.trial.trial_id))
            await self._upsert_trials(
                [UpdateOne({"_id": t.trial.trial_id},
                           {"$setOnInsert": _without_id(trial_document(t))}, upsert=True)
                 for t in trials]
                # Matches the trial's document until it is scored (or inserts it); once
                # scored, the filter misses and the insert collides on _id: kept as it is.
                + [UpdateOne({"_id": s.trial.trial.trial_id, "quality_metrics": None},
                             {"$set": {**_without_id(trial_document(s.trial, quality=False)),
                                       "quality_metrics": quality_metrics(s)}},
                             upsert=True)
                   for s in scored])
            await self._refresh_daily({daily_key(t) for t in
                                       [*trials, *(s.trial for s in scored)]})
        for analysis in (e for e in events if isinstance(e, AnalysisReady)):
            await self._write_analysis(analysis)

    async def _refresh_daily(self, keys: set[tuple[str, str | None, str | None]]) -> None:
        """analytics_daily for these (day, team, user): recomputed from trial_results."""
        for day, team_id, user_id in keys:
            match = {"day": day, "team_id": team_id, "user_id": user_id}
            rows = [row async for row in await self.db.trial_results.aggregate([
                {"$match": match},
                {"$group": {
                    "_id": None,
                    "trials": {"$sum": 1},
                    "completed": {"$sum": {"$cond": [{"$eq": ["$status", "completed"]}, 1, 0]}},
                    "failed": {"$sum": {"$cond": [{"$eq": ["$status", "completed"]}, 0, 1]}},
                    "cached": {"$sum": {"$cond": ["$cached", 1, 0]}},
                    "cost_usd": {"$sum": "$cost_usd"},
                    "prompt_tokens": {"$sum": "$prompt_tokens"},
                    "completion_tokens": {"$sum": "$completion_tokens"},
                    "mean_latency_ms": {"$avg": "$latency_ms"},
                    "mean_score": {"$avg": "$quality_metrics.score"},
                    "experiments": {"$addToSet": "$experiment_id"},
                    "models": {"$addToSet": "$model"},
                }},
            ])]
            if not rows:
                continue
            row = rows[0]
            row.pop("_id", None)
            doc_id = f"{day}|{team_id or '-'}|{user_id or '-'}"
            await self.db.analytics_daily.replace_one(
                {"_id": doc_id},
                {**match, **row, "experiments": sorted(row["experiments"]),
                 "experiment_count": len(row["experiments"]),
                 "models": sorted(m for m in row["models"] if m)},
                upsert=True)

    async def _upsert_trials(self, operations: list[UpdateOne]) -> None:
        try:
            await self.db.trial_results.bulk_write(operations, ordered=False)
        except BulkWriteError as err:
            # Two upserts of one new id in a batch can race to insert: the loser's
            # duplicate key means the first copy is stored, which is the point.
            errors = [e for e in err.details.get("writeErrors", ())
                      if e.get("code") != DUPLICATE_KEY]
            if errors or err.details.get("writeConcernErrors"):
                raise

    async def _write_analysis(self, event: AnalysisReady) -> None:
        doc_id = f"{event.experiment_id}#r{event.round}"
        document = {"_id": doc_id, **event.model_dump(mode="json")}
        try:
            # Matches only an older snapshot; with none, the upsert inserts. A newer one
            # already stored makes the insert collide on _id: keep the newer one.
            await self.db.analytics.replace_one(
                {"_id": doc_id, "seq": {"$lt": event.seq}}, document, upsert=True
            )
        except (DuplicateKeyError, BulkWriteError) as err:
            if getattr(err, "code", DUPLICATE_KEY) != DUPLICATE_KEY:
                raise


def _first_copies(events: Sequence[E], trial_id: Callable[[E], str]) -> Iterator[E]:
    """The first event of each trial in a batch (an unordered bulk write may apply two
    writes of one document in either order)."""
    seen: set[str] = set()
    for event in events:
        if (key := trial_id(event)) not in seen:
            seen.add(key)
            yield event


def trial_document(event: TrialCompleted, *, quality: bool = True) -> dict:
    """One document per trial: ours flat (the trial's identity at the top level, queried by
    experiment and round; the model by its id; the outcome beside it) and the seeds' nested
    prompt / performance_metrics / metadata. quality_metrics waits for trial-scored
    (None until then); `quality=False` leaves it out, for the upsert that sets it."""
    trial = event.trial
    doc = trial.model_dump(mode="json", exclude={"test_case", "analysis", "budget", "model"})
    doc |= event.model_dump(mode="json", exclude={"trial"})
    doc["_id"] = trial.trial_id
    doc["model"] = trial.model.id
    doc["model_label"] = trial.model.display_name
    doc["test_case_id"] = trial.test_case.id
    # What results per test case show beside the id (GET /api/v1/test/{id}/trials).
    doc["test_case_description"] = trial.test_case.description
    doc["vars"] = trial.test_case.vars
    doc["variation_id"] = trial.variation.variation_id
    doc["day"] = event.occurred_at.date().isoformat()
    # The prompt as sent (rendered with the test case's vars), and what it was made from.
    doc["prompt"] = {"text": event.prompt, "variation_id": trial.variation.variation_id,
                     "variation_name": trial.variation.name,
                     "is_control": trial.variation.is_control,
                     "patterns": list(trial.variation.patterns)}
    tokens = [t for t in (event.prompt_tokens, event.completion_tokens) if t is not None]
    doc["performance_metrics"] = {
        "latency_ms": event.latency_ms, "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "total_tokens": sum(tokens) if tokens else None, "cost_usd": event.cost_usd,
        "attempts": event.attempts, "cached": event.cached}
    doc["metadata"] = {
        "experiment_id": trial.experiment_id, "round": trial.round, "model": trial.model.id,
        "test_case_id": trial.test_case.id, "status": event.status, "reason": event.reason,
        "repetition": trial.repetition, "domain": trial.domain,
        "team_id": trial.team_id, "user_id": trial.user_id,
        "occurred_at": event.occurred_at.isoformat()}
    if quality:
        doc["quality_metrics"] = None
    return doc


def quality_metrics(event: TrialScored) -> dict:
    """The seeds' quality_metrics from the scorer's grading of one trial."""
    return {"score": event.score, "pass": event.passed, "reason": event.reason,
            "named_scores": dict(event.named_scores),
            "assertions": [a.model_dump(mode="json") for a in event.assertions],
            "judge": {"calls": event.judge_calls, "cost_usd": event.judge_cost_usd,
                      "prompt_tokens": event.judge_prompt_tokens,
                      "completion_tokens": event.judge_completion_tokens}}


def daily_key(event: TrialCompleted) -> tuple[str, str | None, str | None]:
    return event.occurred_at.date().isoformat(), event.trial.team_id, event.trial.user_id


def _without_id(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "_id"}  # the upsert takes _id from the filter
