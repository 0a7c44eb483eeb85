"""MongoDB documents in the seeds' shape on the real MongoDB-wire server: a trial document
with prompt, performance_metrics, metadata and (from trial-scored) quality_metrics, in
either order; daily aggregates per user and team that a redelivery does not inflate."""

from __future__ import annotations

import uuid

import pytest
from pymongo import AsyncMongoClient

from agents.sinks.mongo import MongoSink
from schemas.events import TrialCompleted, TrialScored, TrialSpec
from schemas.experiment import ModelSpec, TestCase, VariationRef
from topics.catalogue import TRIAL_COMPLETED, TRIAL_SCORED

pytestmark = pytest.mark.integration

VARIATION = VariationRef(variation_id="v1", name="role", patterns=("role",))


def completed(experiment_id: str, i: int, *, team: str, user: str,
              cost: float = 0.001) -> TrialCompleted:
    return TrialCompleted(
        trial=TrialSpec(trial_id=f"{experiment_id}-{i}", experiment_id=experiment_id,
                        variation=VARIATION, test_case=TestCase(id=f"t{i}"),
                        model=ModelSpec(id="sim/small"), expected_trials=3,
                        team_id=team, user_id=user),
        response="positive", latency_ms=100.0 + i, prompt_tokens=20, completion_tokens=2,
        cost_usd=cost, prompt=f"You are an expert. Classify review {i}")


def scored(event: TrialCompleted, score: float) -> TrialScored:
    return TrialScored(trial=event, score=score, passed=score >= 0.5, reason="equals")


async def test_trial_documents_have_the_seeds_shape_and_daily_aggregates_count_once(settings):
    db_name = f"promptopt_docs_{uuid.uuid4().hex[:8]}"
    sink = MongoSink(settings.mongo_uri, db_name)
    await sink.open()
    client = AsyncMongoClient(settings.mongo_uri)
    db = client[db_name]
    try:
        team, user = "team_docs", "usr_docs"
        eid = f"docs-{uuid.uuid4().hex[:6]}"
        trials = [completed(eid, i, team=team, user=user) for i in range(3)]
        # Trial 0 scored after its completion, trial 1 scored before it (topics race),
        # trial 2 never scored; then everything is delivered again.
        await sink.write(TRIAL_COMPLETED, [trials[0]])
        await sink.write(TRIAL_SCORED, [scored(trials[0], 1.0), scored(trials[1], 0.0)])
        await sink.write(TRIAL_COMPLETED, [trials[1], trials[2]])
        await sink.write(TRIAL_COMPLETED, trials)
        await sink.write(TRIAL_SCORED, [scored(trials[0], 1.0), scored(trials[1], 0.0)])

        doc = await db.trial_results.find_one({"_id": f"{eid}-0"})
        assert doc["prompt"]["text"] == "You are an expert. Classify review 0"
        assert doc["prompt"]["variation_name"] == "role" and doc["prompt"]["patterns"] == ["role"]
        assert doc["performance_metrics"] == {
            "latency_ms": 100.0, "prompt_tokens": 20, "completion_tokens": 2,
            "total_tokens": 22, "cost_usd": 0.001, "attempts": 1, "cached": False}
        assert doc["metadata"]["team_id"] == team and doc["metadata"]["model"] == "sim/small"
        assert doc["quality_metrics"]["score"] == 1.0 and doc["quality_metrics"]["pass"] is True
        # Ours beside the seeds': the flat fields queries already use.
        assert doc["experiment_id"] == eid and doc["status"] == "completed"
        early = await db.trial_results.find_one({"_id": f"{eid}-1"})
        assert early["quality_metrics"]["score"] == 0.0 and early["response"] == "positive"
        unscored = await db.trial_results.find_one({"_id": f"{eid}-2"})
        assert unscored["quality_metrics"] is None

        [daily] = await db.analytics_daily.find({"team_id": team}).to_list()
        assert daily["user_id"] == user and daily["day"] == trials[0].occurred_at.date().isoformat()
        assert daily["trials"] == 3 and daily["completed"] == 3 and daily["failed"] == 0
        assert daily["cost_usd"] == pytest.approx(0.003)
        assert daily["prompt_tokens"] == 60 and daily["experiment_count"] == 1
        assert daily["mean_score"] == pytest.approx(0.5)  # the two scored trials
        assert daily["models"] == ["sim/small"]
    finally:
        await client.drop_database(db_name)
        await client.close()
        await sink.close()
