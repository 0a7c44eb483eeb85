"""MongoDB sink (pymongo's async client): one document per trial, the latest analysis per
experiment round.

Trial documents are keyed `_id = trial_id` and inserted only if absent: the first
trial-completed of a trial is the one that stays, whatever comes later (a redelivery, a
replay whose call was a cache hit at cost 0). The scorer folds the same first event (it
reads the same partition in the same order and ignores repeated trial ids), so the stored
documents and the analysis agree on cost. An analysis document is only replaced by a newer
`seq`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from agents.runtime.failures import ServiceNotReady

from schemas.events import AnalysisReady, Event, TrialCompleted
from topics.catalogue import ANALYSIS_READY, TRIAL_COMPLETED, Topic

DUPLICATE_KEY = 11000


class MongoSink:
    name = "sink.mongo"
    topics = (TRIAL_COMPLETED, ANALYSIS_READY)

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
        if trials:
            await self._insert_trials(trials)
        for analysis in (e for e in events if isinstance(e, AnalysisReady)):
            await self._write_analysis(analysis)

    async def _insert_trials(self, trials: list[TrialCompleted]) -> None:
        try:
            await self.db.trial_results.bulk_write(
                [UpdateOne({"_id": t.trial.trial_id},
                           {"$setOnInsert": _without_id(trial_document(t))}, upsert=True)
                 for t in trials],
                ordered=False,
            )
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


def trial_document(event: TrialCompleted) -> dict:
    """One flat document per trial: the trial's identity at the top level (queried by
    experiment and round), the model by its id, the outcome beside it."""
    trial = event.trial
    doc = trial.model_dump(mode="json", exclude={"test_case", "analysis", "budget", "model"})
    doc |= event.model_dump(mode="json", exclude={"trial"})
    doc["_id"] = trial.trial_id
    doc["model"] = trial.model.id
    doc["test_case_id"] = trial.test_case.id
    doc["variation_id"] = trial.variation.variation_id
    return doc


def _without_id(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "_id"}  # the upsert takes _id from the filter
