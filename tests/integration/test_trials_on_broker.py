"""The trials agent on the real broker against a faulty or metered LLM: every trial is
accounted for, retries happen, and a money budget holds."""

from __future__ import annotations

import json
import uuid

import pytest
from pymongo import AsyncMongoClient

from tests.integration.conftest import start_simulator
from tests.integration.test_end_to_end import (
    consume_until,
    eventually,
    final_for,
    prompt_submitted,
    publish,
)

pytestmark = pytest.mark.integration


async def trial_documents(settings, experiment_id: str) -> list[dict]:
    client = AsyncMongoClient(settings.mongo_uri)
    try:
        cursor = client[settings.mongo_db].trial_results.find({"experiment_id": experiment_id})
        return await cursor.to_list(None)
    finally:
        await client.close()


async def run(settings, experiment_id: str, body: dict, timeout: float = 180) -> dict:
    await publish(settings.kafka_bootstrap, "prompt-submitted", experiment_id,
                  json.dumps(body).encode())
    return await consume_until(settings.kafka_bootstrap, "analysis-ready",
                               final_for(experiment_id), timeout=timeout)


async def test_with_20_percent_faults_every_trial_ends_completed_or_failed_with_reason(
        start_worker, settings, tmp_path):
    sim, sim_url = start_simulator(tmp_path, "--error-rate", "0.2", "--seed", "7")
    try:
        start_worker(sim_url=sim_url, env_extra={
            "PROMPTOPT_LLM_TIMEOUT_S": "2",  # the simulator's "timeouts" hang; give up fast
            "PROMPTOPT_LLM_MAX_RETRIES": "1",
        })
        experiment_id = f"faults-{uuid.uuid4().hex[:8]}"
        final = await run(settings, experiment_id, prompt_submitted(experiment_id, n_tests=30))
    finally:
        sim.stop()

    assert final["trials_expected"] == final["trials_done"] == 60
    docs = await eventually(lambda: trial_documents(settings, experiment_id),
                            lambda docs: len(docs) >= 60)
    assert len(docs) == 60
    statuses = {d["status"] for d in docs}
    assert statuses <= {"completed", "failed"}
    assert all(d["reason"] for d in docs if d["status"] == "failed")
    assert final["trials_failed"] == sum(d["status"] == "failed" for d in docs)
    # ~20 % of first attempts fail: some trials needed their retry.
    assert sum(d["attempts"] for d in docs) > 60
    odd = [(d["attempts"], d["status"], d["cached"], d["reason"]) for d in docs
           if d["status"] != "skipped" and not 1 <= d["attempts"] <= 2]
    assert odd == []


async def test_a_money_budget_holds_within_the_calls_in_flight(start_worker, settings, tmp_path):
    concurrency = 2
    sim, sim_url = start_simulator(tmp_path, "--latency-ms", "100")
    try:
        start_worker(sim_url=sim_url,
                     env_extra={"PROMPTOPT_LLM_CONCURRENCY": str(concurrency)})
        experiment_id = f"budget-{uuid.uuid4().hex[:8]}"
        body = prompt_submitted(experiment_id, n_tests=30)
        cap = 0.03
        body["spec"]["budget"] = {"max_cost_usd": cap}
        body["spec"]["models"] = [{"id": "sim/small", "temperature": 0,
                                   "input_cost_per_token": 1e-4,
                                   "output_cost_per_token": 1e-4}]
        final = await run(settings, experiment_id, body)
    finally:
        sim.stop()

    docs = await eventually(lambda: trial_documents(settings, experiment_id),
                            lambda docs: len(docs) >= 60)
    spent = sum(d["cost_usd"] for d in docs)
    most = max(d["cost_usd"] for d in docs)
    assert final["budget_exhausted"] is True
    assert cap <= spent <= cap + concurrency * most
    assert final["cost_usd"] == pytest.approx(spent)
    skipped = [d for d in docs if d["status"] == "skipped"]
    assert skipped and all(d["reason"].startswith("budget") for d in skipped)
    assert final["trials_done"] == final["trials_expected"] == 60 == len(docs)
