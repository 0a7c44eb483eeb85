"""Poison on every public topic (issue 12, items 2 and 5): NUL-bearing, 900 KB, deeply
nested and wrong-typed values on prompt-submitted, variation-generated, trial-completed and
analysis-ready. Each is dead-lettered with its reason, the worker stays alive, and a good
event published after them on each topic is processed and stored (PostgreSQL, MongoDB).

Regression: one prompt with a NUL was accepted, then the PostgreSQL sink retried its batch
forever ("invalid byte sequence for encoding UTF8: 0x00") and nothing later was recorded.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from tests.integration.conftest import end_offsets
from tests.integration.test_end_to_end import prompt_submitted
from topics.reader import open_reader

pytestmark = pytest.mark.integration

BIG = "x" * 900_000


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


def variation_generated(eid: str) -> dict:
    spec = prompt_submitted(eid, n_tests=2)["spec"]
    return {"schema_version": 1, "experiment_id": eid, "round": 1, "spec": spec,
            "variations": [
                {"variation_id": f"{eid}-v0", "name": "control", "prompt": spec["prompt"],
                 "is_control": True},
                {"variation_id": f"{eid}-v1", "name": "terse",
                 "prompt": "Sentiment of this review, one word: {{review}}"}]}


def trial_completed(eid: str) -> dict:
    return {"schema_version": 1, "trial": {
        "trial_id": f"{eid}-t0", "experiment_id": eid, "round": 1,
        "variation": {"variation_id": f"{eid}-v0", "name": "control", "is_control": True},
        "test_case": {"id": "t0", "vars": {"review": "Great"}, "expected": "positive"},
        "model": {"id": "sim/small"}, "expected_trials": 1},
        "status": "completed", "response": "positive"}


def analysis_ready(eid: str) -> dict:
    return {"schema_version": 1, "experiment_id": eid, "round": 1, "seq": 1, "final": False,
            "trials_expected": 4, "trials_done": 1}


def changed(value: dict, path: tuple, new: Any) -> dict:
    out = copy.deepcopy(value)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return out


# topic -> (a good event for experiment id E, the string field for NUL and size, a field
# for wrong types)
TOPICS: dict[str, tuple[Callable[[str], dict], tuple, tuple]] = {
    "prompt-submitted": (lambda e: prompt_submitted(e, n_tests=2), ("spec", "prompt"),
                         ("experiment_id",)),
    "variation-generated": (variation_generated, ("variations", 1, "prompt"), ("round",)),
    "trial-completed": (trial_completed, ("response",), ("cost_usd",)),
    "analysis-ready": (analysis_ready, ("reason",), ("seq",)),
}


def poison(topic: str, eid: str) -> dict[str, bytes]:
    good, text, typed = TOPICS[topic]
    base = good(eid)
    original = str(_get(base, text))
    return {
        "nul": json.dumps(changed(base, text, original + " \u0000 tail")).encode(),
        "900kb": json.dumps(changed(base, text, BIG)).encode(),
        "nested": json.dumps(changed(base, text, nested(300))).encode(),
        "wrong-type": json.dumps(changed(base, typed, {"not": ["a", "scalar"]})).encode(),
    }


def _get(value: Any, path: tuple) -> Any:
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError):
            return ""
    return value


async def stored(settings, run: str) -> dict[str, bool]:
    """Whether each good event reached its store."""
    conn = await asyncpg.connect(settings.postgres_dsn)
    mongo = AsyncMongoClient(settings.mongo_uri)
    try:
        db = mongo[settings.mongo_db]
        return {
            "prompt-submitted": await conn.fetchval(
                "SELECT count(*) FROM optimizations WHERE id = $1", f"good-ps-{run}") == 1,
            "variation-generated": await conn.fetchval(
                "SELECT count(*) FROM ab_tests WHERE optimization_id = $1",
                f"good-vg-{run}") == 1,
            "trial-completed": await db.trial_results.count_documents(
                {"_id": f"good-tc-{run}-t0"}) == 1,
            "analysis-ready": await conn.fetchval(
                "SELECT count(*) FROM analyses WHERE experiment_id = $1",
                f"good-ar-{run}") == 1,
        }
    finally:
        await conn.close()
        await mongo.close()


async def dead_letters(bootstrap: str, since: int, wanted: set[tuple[str, int, int]],
                       timeout: float) -> dict[tuple[str, int, int], str]:
    """Reasons of the dead-letter records of `wanted` (topic, partition, offset)."""
    consumer = await open_reader(bootstrap, "dead-letter")
    found: dict[tuple[str, int, int], str] = {}
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not wanted <= set(found):
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    if record.offset < since:
                        continue
                    dead = json.loads(record.value)
                    where = (dead["source_topic"], dead["partition"], dead["offset"])
                    if where in wanted:
                        found.setdefault(where, dead["reason"])
    finally:
        await consumer.stop()
    return found


async def test_poison_on_every_public_topic_is_dead_lettered_and_the_worker_goes_on(
        start_worker, settings):
    bootstrap = settings.kafka_bootstrap
    since = (await end_offsets(bootstrap))
    dead_start = min(o for tp, o in since.items() if tp.topic == "dead-letter")
    worker, web_port = start_worker()
    run = uuid.uuid4().hex[:8]
    short = {"prompt-submitted": "ps", "variation-generated": "vg",
             "trial-completed": "tc", "analysis-ready": "ar"}
    bad: dict[tuple[str, int, int], str] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2_000_000)
    await producer.start()
    try:
        for topic in TOPICS:
            for kind, value in poison(topic, f"bad-{short[topic]}-{run}").items():
                meta = await producer.send_and_wait(topic, key=f"bad-{run}".encode(),
                                                    value=value)
                bad[(topic, meta.partition, meta.offset)] = kind
        for topic, (good, _, _) in TOPICS.items():
            eid = f"good-{short[topic]}-{run}"
            await producer.send_and_wait(topic, key=eid.encode(),
                                         value=json.dumps(good(eid)).encode())
    finally:
        await producer.stop()

    reasons = await dead_letters(bootstrap, dead_start, set(bad), timeout=120)
    missing = {bad[w] + " on " + w[0] for w in set(bad) - set(reasons)}
    assert not missing, f"not dead-lettered: {sorted(missing)}"
    for where, reason in reasons.items():
        assert reason, where
        if bad[where] == "nul":
            assert "NUL" in reason or "\\u0000" in reason, reason

    deadline = time.monotonic() + 90
    while not all((got := await stored(settings, run)).values()):
        assert time.monotonic() < deadline, f"good events not stored after the poison: {got}"
        await asyncio.sleep(1)

    assert worker.proc.poll() is None, worker.tail()  # alive
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"http://127.0.0.1:{web_port}/metrics")).status_code == 200
