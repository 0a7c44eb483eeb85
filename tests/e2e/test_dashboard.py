"""The dashboard in a real browser while an experiment runs on the real stack: `promptopt api`,
workers on Kafka, PostgreSQL and MongoDB deployed as infra/k8s deploys them (one worker per
agent role, each its own consumer group), the LLM simulator answering slowly enough that
the run lasts a few seconds. The page must fill in from the SSE stream as the scorer's
snapshots arrive, then show the final decision; screenshots of both states are left in
.artifacts/ (dashboard-live.png, dashboard-final.png)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from promptopt.commands.worker import ROLES
from tests.integration.conftest import (
    ROOT,
    commit_offsets,
    end_offsets,
    start_simulator,
)

REVIEWS = [("I love it, works great", "positive"), ("Awful, broke on day one", "negative"),
           ("Excellent quality and fast delivery", "positive"),
           ("Terrible smell and cheap plastic", "negative")]


@pytest.fixture
def api_key(migrated) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "api", "create-key",
         "--email", f"e2e-{uuid.uuid4().hex[:8]}@example.com", "--team", "e2e",
         "--rate-limit", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)["key"]


@pytest.fixture
def slow_llm(tmp_path) -> Iterator[str]:
    # 150 ms a call, two calls at a time (the worker's concurrency below): 40 trials take
    # about 3 s, long enough for several snapshots to reach the page one by one.
    proc, url = start_simulator(tmp_path, "--latency-ms", "150")
    try:
        yield url
    finally:
        proc.stop()


# One worker per `promptopt worker --role`, as infra/k8s/workers.yaml deploys them, with
# what each needs to make this run watchable.
ROLE_ENV = {"trials": {"PROMPTOPT_LLM_CONCURRENCY": "2"},
            "scorer": {"PROMPTOPT_SNAPSHOT_EVERY": "6"}}


async def start_role_workers(start_worker, bootstrap: str) -> None:
    """One worker per role, each its own group, starting at the topics' end. One after the
    other: several Faust workers creating their changelog topics at once were seen (1 run in
    4) to leave one with a table whose changelog its consumer's metadata did not list yet
    (PartitionsMismatch on every event until the next metadata refresh)."""
    deployment = f"promptopt-e2e-{uuid.uuid4().hex[:8]}"
    ends = await end_offsets(bootstrap)
    for role in ROLES:
        await commit_offsets(bootstrap, f"{deployment}-{role}", ends)
        await asyncio.to_thread(
            start_worker, f"{deployment}-{role}", args=("--role", role),
            env_extra={"PROMPTOPT_FAUST_SHARED_ID": deployment, **ROLE_ENV.get(role, {})})


def ab_test(n_tests: int, api_base: str) -> dict:
    """An A/B test of two prompts of our own (test/create: no optimizer in the way)."""
    return {
        "name": "Dashboard e2e",
        "prompt": "Classify the sentiment of this review: {{review}}",
        "variations": [
            {"name": "plain", "prompt": "Classify the sentiment of this review: {{review}}"},
            {"name": "one-word", "prompt": "Is this review positive or negative? Answer with "
                                           "one word only.\n\n{{review}}"},
        ],
        "domain": "classification",
        "test_cases": [{"id": f"t{i}", "vars": {"review": f"{REVIEWS[i % 4][0]} (#{i})"},
                        "expected": REVIEWS[i % 4][1]} for i in range(n_tests)],
        "models": [{"id": "sim/small", "temperature": 0, "api_base": api_base}],
        "analysis": {"design": "fixed"},
    }


async def test_dashboard_follows_a_running_experiment_live_to_its_decision(
        page, screenshot, start_worker, topics_ready, api_url, api_key, slow_llm):
    await start_role_workers(start_worker, topics_ready.kafka_bootstrap)
    async with httpx.AsyncClient(base_url=api_url, timeout=30,
                                 headers={"Authorization": f"Bearer {api_key}"}) as http:
        accepted = await http.post("/api/v1/test/create", json=ab_test(20, slow_llm))
    assert accepted.status_code == 201, accepted.text
    experiment_id = accepted.json()["data"]["experiment_id"]

    await page.goto(f"{api_url}/?key={api_key}&experiment={experiment_id}")
    await page.wait_for_selector("#connection.live", timeout=30_000)
    assert "key=" not in page.url  # the page takes the key out of the address bar

    # Every distinct "done / expected" the page shows, polled while the run goes on.
    seen: list[str] = []
    live_shot = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        trials = page.locator("#trials")
        if await trials.is_visible():
            text = await trials.inner_text()
            if not seen or seen[-1] != text:
                seen.append(text)
            final = await page.locator("#decision .badge.final").count() > 0
            if not final and not live_shot:
                await screenshot(page, "dashboard-live")
                live_shot = True
            if final:
                break
        await page.wait_for_timeout(100)
    else:
        raise AssertionError(f"no final decision on the page after 120 s; saw {seen}")

    await screenshot(page, "dashboard-final")
    assert seen[-1] == "40 / 40", seen
    # Live, not a late replay: the page drew at least one snapshot before the final one.
    assert live_shot and len(seen) >= 2, seen
    done = [int(s.split("/")[0]) for s in seen]
    assert done == sorted(done) and done[0] < 40, seen

    assert await page.locator("#experiments li").filter(has_text=experiment_id).count() == 1
    assert await page.locator("#detail-title").inner_text() == experiment_id
    assert await page.locator("#variations tr").count() == 2  # control and one variation
    decision = await page.locator("#decision strong").inner_text()
    assert decision.startswith(("Winner", "Control is best", "Inconclusive")), decision
    # The chart drew a mean (dot) per variation.
    assert await page.locator("#chart circle").count() == 2
