"""A worker killed with SIGKILL mid-experiment loses nothing and counts nothing twice:
its successor (same consumer group) restores the scorer's state from the changelog and
resumes from the last committed offsets."""

from __future__ import annotations

import json
import os
import signal
import uuid

import pytest

from tests.integration.conftest import SESSION_APP_ID, start_simulator
from tests.integration.test_end_to_end import (
    consume_until,
    eventually,
    final_for,
    mongo_trials,
    prompt_submitted,
    publish,
    trial_events,
)

pytestmark = pytest.mark.integration


async def test_sigkill_mid_experiment_then_restart_gives_exact_counts(
        start_worker, settings, tmp_path):
    sim, sim_url = start_simulator(tmp_path, "--latency-ms", "250")
    try:
        # Two LLM calls at a time at 250 ms: 60 trials take ~8 s, time enough to kill.
        slow = {"PROMPTOPT_LLM_CONCURRENCY": "2"}
        # The session's consumer group: resume where earlier tests stopped, replay nothing.
        app_id = SESSION_APP_ID
        first, _ = start_worker(app_id, sim_url=sim_url, env_extra=slow)
        experiment_id = f"crash-{uuid.uuid4().hex[:8]}"
        await publish(settings.kafka_bootstrap, "prompt-submitted", experiment_id,
                      json.dumps(prompt_submitted(experiment_id, n_tests=30)).encode())

        await trial_events(settings.kafka_bootstrap, experiment_id, until=12)
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)

        start_worker(app_id, sim_url=sim_url, env_extra=slow)
        final = await consume_until(settings.kafka_bootstrap, "analysis-ready",
                                    final_for(experiment_id), timeout=180)
    finally:
        sim.stop()
    assert final["trials_expected"] == 60 and final["trials_done"] == 60
    assert sorted(v["n"] + v["n_failed"] for v in final["variations"]) == [30, 30]
    assert await eventually(lambda: mongo_trials(settings, experiment_id),
                            lambda n: n >= 60) == 60
