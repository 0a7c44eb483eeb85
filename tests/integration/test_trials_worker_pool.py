"""`promptopt worker --role trials --processes 2`: two trials workers on one host split a
round's LLM calls, and the supervisor replaces a worker that dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import urllib.request
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from schemas.events import VariationGenerated
from schemas.experiment import ExperimentSpec, ModelSpec, TestCase, Variation
from tests.integration.conftest import Process, free_port, wait_for_port
from topics.catalogue import TRIAL_COMPLETED, VARIATION_GENERATED
from topics.client import PromptOptClient
from topics.codec import decode

pytestmark = pytest.mark.integration


def a_round(experiment_id: str, n_tests: int) -> VariationGenerated:
    prompt = "Classify the sentiment of this review, answer with one word: {{text}}"
    spec = ExperimentSpec(
        prompt=prompt,
        test_cases=tuple(TestCase(id=f"t{i}", vars={"text": f"{experiment_id} review {i}"},
                                  expected="positive") for i in range(n_tests)),
        models=(ModelSpec(id="sim/small", temperature=0),),
        analysis={"design": "fixed"},
    )
    variations = (Variation(variation_id="c", name="control", prompt=prompt, is_control=True),
                  Variation(variation_id="v", name="role", prompt="You are an expert. " + prompt))
    return VariationGenerated(experiment_id=experiment_id, variations=variations, spec=spec)


async def run_round(bootstrap: str, n_tests: int, timeout: float = 120) -> set[str]:
    """Publish a round on variation-generated; the trial ids that came back completed."""
    event = a_round(f"pool-{uuid.uuid4().hex[:8]}", n_tests)
    consumer = AIOKafkaConsumer(TRIAL_COMPLETED.name, bootstrap_servers=bootstrap)
    await consumer.start()
    done: set[str] = set()
    try:
        await consumer.seek_to_end()
        async with PromptOptClient(bootstrap) as client:
            await client.publish(VARIATION_GENERATED, event)
        async with asyncio.timeout(timeout):
            while len(done) < 2 * n_tests:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        trial = decode(TRIAL_COMPLETED, record.value)
                        if trial.trial.experiment_id == event.experiment_id:
                            assert trial.status == "completed", trial.reason
                            done.add(trial.trial.trial_id)
    finally:
        await consumer.stop()
    return done


def trials_handled(port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("step_events_total{") and "trials.run_trial" in line))


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


async def test_a_pool_splits_a_round_and_replaces_a_dead_worker(
        session_group, settings, simulator, tmp_path):
    base = free_port()
    while free_port() == base + 1:  # pragma: no cover - the next port must be free too
        base = free_port()
    env = {**os.environ, "PROMPTOPT_SIM_BASE_URL": simulator,
           "PROMPTOPT_FAUST_DATA_DIR": str(tmp_path / "faust")}
    pool = Process([sys.executable, "-m", "promptopt.cli", "worker", "--role", "trials",
                    "--processes", "2", "--no-sinks", "--app-id", session_group,
                    "--web-port", str(base), "--loglevel", "warning"],
                   env, tmp_path / "pool.log")
    try:
        wait_for_port(base, pool, timeout=90)
        wait_for_port(base + 1, pool, timeout=90)
        first = await run_round(settings.kafka_bootstrap, n_tests=40)
        assert len(first) == 80
        handled = [trials_handled(base), trials_handled(base + 1)]
        assert all(h > 0 for h in handled), handled  # both workers made calls
        assert sum(handled) >= 80

        dead = children(pool.proc.pid)[0]
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            alive = children(pool.proc.pid)
            if len(alive) == 2 and dead not in alive:
                break
            await asyncio.sleep(0.5)
        assert len(alive) == 2 and dead not in alive, "the supervisor did not replace it"
        wait_for_port(base, pool, timeout=90)
        wait_for_port(base + 1, pool, timeout=90)
        assert len(await run_round(settings.kafka_bootstrap, n_tests=20)) == 40
    finally:
        pool.stop(timeout=30)
    assert pool.proc.returncode == 0, pool.tail()
