"""GET /api/v1/test/{id}/trials on the real servers: trial documents written by the MongoDB
sink (trial-completed and trial-scored, in either order, one redelivered) read back through
the API on the real PostgreSQL (whose experiment row scopes the team) and MongoDB-wire
server (whose query carries the team again): rows in order, pages, totals with judges."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from fastapi.testclient import TestClient

from agents.sinks.mongo import MongoSink
from api import create_app
from api.accounts import create_key
from api.auth import hash_key, new_api_key
from api.postgres_store import PostgresStore
from api.settings import ApiSettings
from api.trial_results import MongoTrialResults, TrialQuery
from schemas.events import (
    AssertionOutcome,
    PromptSubmitted,
    TrialCompleted,
    TrialScored,
    TrialSpec,
)
from schemas.experiment import ExperimentSpec, ModelSpec, TestCase, VariationRef
from tests.integration.test_api_schema_fuzz import EncodingBus
from topics.catalogue import TRIAL_COMPLETED, TRIAL_SCORED

pytestmark = pytest.mark.integration


def completed(eid: str, case: str, arm: str, owner: dict, status: str = "completed"
              ) -> TrialCompleted:
    return TrialCompleted(
        trial=TrialSpec(trial_id=f"{eid}-{case}-{arm}", experiment_id=eid,
                        variation=VariationRef(variation_id=f"{eid}-{arm}", name=arm,
                                               is_control=arm == "v0"),
                        test_case=TestCase(id=case, vars={"city": case}),
                        model=ModelSpec(id="sim/small"), expected_trials=4, **owner),
        status=status, response=f"{case}!" if status == "completed" else None,
        reason=None if status == "completed" else "invalid_api_key (HTTP 401): no",
        cost_usd=0.002, prompt=f"Where is {case}?")


def graded(event: TrialCompleted, score: float, judge: float) -> TrialScored:
    return TrialScored(trial=event, score=score, passed=score == 1, reason="r",
                       assertions=(AssertionOutcome(type="llm-rubric", passed=score == 1,
                                                    score=score, reason="judged"),),
                       judge_calls=1, judge_cost_usd=judge)


async def user_of(dsn: str, team: str) -> tuple[str, dict]:
    key = new_api_key()
    conn = await asyncpg.connect(dsn)
    try:
        made = await create_key(conn, f"{uuid.uuid4().hex[:10]}@example.com", hash_key(key),
                                team=team)
    finally:
        await conn.close()
    return key, {"team_id": made["team_id"], "user_id": made["user_id"]}


async def prepare(settings, db_name: str) -> tuple[str, str, str]:
    key_a, owner_a = await user_of(settings.postgres_dsn, f"trials-a-{uuid.uuid4().hex[:6]}")
    key_b, _ = await user_of(settings.postgres_dsn, f"trials-b-{uuid.uuid4().hex[:6]}")
    eid = f"rows-{uuid.uuid4().hex[:8]}"
    store = PostgresStore(settings.postgres_dsn)
    spec = ExperimentSpec(prompt="Where is {{city}} located?", models=[ModelSpec(id="sim/small")],
                          test_cases=[TestCase(id="paris"), TestCase(id="rome")])
    try:
        await store.record_submission(PromptSubmitted(experiment_id=eid, spec=spec, **owner_a))
    finally:
        await store.close()
    sink = MongoSink(settings.mongo_uri, db_name)
    await sink.open()
    try:
        trials = [completed(eid, "paris", "v0", owner_a), completed(eid, "paris", "v1", owner_a),
                  completed(eid, "rome", "v0", owner_a, status="failed"),
                  completed(eid, "rome", "v1", owner_a)]
        # graded before its completion arrives, then everything delivered again
        await sink.write(TRIAL_SCORED, [graded(trials[0], 1.0, 0.001)])
        await sink.write(TRIAL_COMPLETED, trials)
        await sink.write(TRIAL_SCORED, [graded(trials[1], 0.0, 0.001),
                                        graded(trials[3], 1.0, 0.001)])
        await sink.write(TRIAL_COMPLETED, trials)
        await sink.write(TRIAL_SCORED, [graded(trials[0], 1.0, 0.001)])
    finally:
        await sink.close()
    return eid, key_a, key_b


def test_results_per_test_case_through_the_api_on_the_real_servers(migrated):
    settings = migrated
    db_name = f"promptopt_rows_{uuid.uuid4().hex[:8]}"
    eid, key_a, key_b = asyncio.run(prepare(settings, db_name))
    app = create_app(ApiSettings(), core=settings, store=PostgresStore(settings.postgres_dsn),
                     bus=EncodingBus(), checks={},
                     trial_results=MongoTrialResults(settings.mongo_uri, db_name))
    with TestClient(app) as client:
        a = {"Authorization": f"Bearer {key_a}"}
        page = client.get(f"/api/v1/test/{eid}/trials?limit=3", headers=a)
        assert page.status_code == 200, page.text
        data = page.json()["data"]
        assert [(r["test_case_id"], r["arm"]) for r in data["trials"]] == [
            ("paris", "v0"), ("paris", "v1"), ("rome", "v0")]
        assert data["next_offset"] == 3
        first = data["trials"][0]
        assert first["vars"] == {"city": "paris"} and first["prompt"] == "Where is paris?"
        assert first["response"] == "paris!" and first["score"] == 1.0 and first["passed"]
        assert first["assertions"][0]["reason"] == "judged"
        assert first["total_cost_usd"] == pytest.approx(0.003)
        assert data["trials"][2]["reason"].startswith("invalid_api_key (HTTP 401)")
        assert data["totals"] == pytest.approx({
            "trials": 4, "completed": 3, "failed": 1, "skipped": 0, "graded": 3, "passed": 2,
            "cost_usd": 0.008, "judge_cost_usd": 0.003, "judge_calls": 3,
            "total_cost_usd": 0.011})
        rest = client.get(f"/api/v1/test/{eid}/trials?offset=3&limit=3", headers=a).json()
        assert [r["trial_id"] for r in rest["data"]["trials"]] == [f"{eid}-rome-v1"]
        assert rest["data"]["next_offset"] is None
        other = client.get(f"/api/v1/test/{eid}/trials",
                           headers={"Authorization": f"Bearer {key_b}"})
        assert other.status_code == 404


async def test_the_mongo_query_itself_carries_the_team(migrated):
    settings = migrated
    db_name = f"promptopt_rows_{uuid.uuid4().hex[:8]}"
    eid, _, _ = await prepare(settings, db_name)
    reader = MongoTrialResults(settings.mongo_uri, db_name)
    try:
        theirs = await reader.page(TrialQuery(eid, "some-other-team"))
        admin = await reader.page(TrialQuery(eid, None, status="failed"))
    finally:
        await reader.close()
    assert theirs.documents == [] and theirs.totals == {}
    assert [d["test_case_id"] for d in admin.documents] == ["rome"]
