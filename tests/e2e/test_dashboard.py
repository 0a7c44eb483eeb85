"""The dashboard in a real browser while an experiment runs on the real stack: `promptopt api`,
workers on Kafka, PostgreSQL and MongoDB deployed as infra/k8s deploys them (one worker per
agent role, each its own consumer group), the LLM simulator answering slowly enough that
the run lasts a few seconds. The page is live (caught up with the stream) before the
experiment is created, must fill in from the SSE stream as the scorer's snapshots arrive,
then show the final decision, live throughout; screenshots of both states are left in
.artifacts/ (dashboard-live.png when the poll caught a snapshot, dashboard-final.png).

What the page drew is recorded in the page itself (a MutationObserver, DRAWN), not polled
from outside: a poll on a loaded machine can miss states the page did show.
"""

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
    """A user of a team of its own: the page shows this test's experiments only."""
    return new_user()["key"]


def new_user() -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "promptopt.cli", "api", "create-key",
         "--email", f"e2e-{uuid.uuid4().hex[:8]}@example.com",
         "--team", f"e2e-{uuid.uuid4().hex[:8]}", "--rate-limit", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout)


# Every state the page drew, after each batch of DOM changes: the connection's class, the
# experiments listed, the trials counter of the detail shown (None while none is shown).
DRAWN = """
window.__drawn = [];
new MutationObserver(() => {
  const $ = (id) => document.getElementById(id);
  if (!$("connection")) return;
  window.__drawn.push({
    connection: $("connection").className,
    listed: [...document.querySelectorAll("#experiments li")].map((li) => li.textContent),
    trials: $("detail") && !$("detail").hidden ? $("trials").textContent : null,
  });
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


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
    """One worker per role, each its own group, starting at the topics' end, all started at
    once as an orchestrator starts them (each worker creates its changelogs and waits until
    they are served before its consumer joins, so none starts with a changelog its
    metadata does not list: the PartitionsMismatch race of simultaneous starts)."""
    deployment = f"promptopt-e2e-{uuid.uuid4().hex[:8]}"
    ends = await end_offsets(bootstrap)
    for role in ROLES:
        await commit_offsets(bootstrap, f"{deployment}-{role}", ends)
    await asyncio.gather(*(asyncio.to_thread(
        start_worker, f"{deployment}-{role}", args=("--role", role),
        env_extra={"PROMPTOPT_FAUST_SHARED_ID": deployment, **ROLE_ENV.get(role, {})})
        for role in ROLES))


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
    # Regression (a flake seen 1 run in 4): the experiment was created before the page was
    # opened, so on a loaded machine the page could go live after the run had finished
    # (a run lasts ~3 s; page load and stream start took 1.5-2.5 s here) and draw only
    # "40 / 40"; and the page said "live" when the stream opened, before the current
    # state arrived, so waiting for "live" did not mean the page was following.
    await start_role_workers(start_worker, topics_ready.kafka_bootstrap)
    await page.add_init_script(DRAWN)
    await page.goto(f"{api_url}/?key={api_key}")
    await page.wait_for_selector("#connection.live", timeout=30_000)  # caught up
    assert "key=" not in page.url  # the page takes the key out of the address bar
    async with httpx.AsyncClient(base_url=api_url, timeout=30,
                                 headers={"Authorization": f"Bearer {api_key}"}) as http:
        accepted = await http.post("/api/v1/test/create", json=ab_test(20, slow_llm))
    assert accepted.status_code == 201, accepted.text
    experiment_id = accepted.json()["data"]["experiment_id"]

    live_shot = False
    deadline = time.monotonic() + 120
    while await page.locator("#decision .badge.final").count() == 0:
        if time.monotonic() > deadline:
            drawn = await page.evaluate("window.__drawn")
            raise AssertionError(f"no final decision on the page after 120 s; drew {drawn}")
        if not live_shot and await page.locator("#decision .badge.running").count():
            await screenshot(page, "dashboard-live")
            live_shot = True
        await page.wait_for_timeout(100)
    await screenshot(page, "dashboard-final")

    drawn = await page.evaluate("window.__drawn")
    seen: list[str] = []
    for state in drawn:
        if state["trials"] is not None and (not seen or seen[-1] != state["trials"]):
            seen.append(state["trials"])
    assert seen and seen[-1] == "40 / 40", seen
    # Live, not a late replay: the page drew snapshots before the final one, in order.
    done = [int(s.split("/")[0]) for s in seen]
    assert len(seen) >= 2 and done == sorted(done) and done[0] < 40, seen
    # Live throughout: from the first "live" on, never reconnecting or closed.
    first_live = next(i for i, d in enumerate(drawn) if "live" in d["connection"].split())
    assert {d["connection"] for d in drawn[first_live:]} == {"connection live"}, drawn
    assert await page.locator("#connection-text").inner_text() == "live"

    assert await page.locator("#experiments li").filter(has_text=experiment_id).count() == 1
    assert await page.locator("#detail-title").inner_text() == experiment_id
    assert await page.locator("#variations tr").count() == 2  # control and one variation
    decision = await page.locator("#decision strong").inner_text()
    assert decision.startswith(("Winner", "Control is best", "Inconclusive")), decision
    # The chart drew a mean (dot) per variation.
    assert await page.locator("#chart circle").count() == 2


async def test_regression_the_page_said_live_before_it_showed_the_current_state(
        page, settings, api_url):
    # "live" was set when the stream's response started; the current state (the backlog
    # of analyses) came after it. Now the stream says `ready` once it has sent the current
    # state, and the page says "live" then: whatever it shows by then is the present.
    from schemas.events import AnalysisReady
    from topics.catalogue import ANALYSIS_READY
    from topics.client import PromptOptClient

    user = new_user()
    experiment_id = f"e2e-ready-{uuid.uuid4().hex[:8]}"
    async with PromptOptClient(settings.kafka_bootstrap) as client:
        await client.publish(ANALYSIS_READY, AnalysisReady(
            experiment_id=experiment_id, team_id=user["team_id"], user_id=user["user_id"],
            trials_expected=8, trials_done=8, final=True))
    await page.add_init_script(DRAWN)
    await page.goto(f"{api_url}/?key={user['key']}")
    await page.wait_for_selector("#connection.live", timeout=30_000)
    drawn = await page.evaluate("window.__drawn")
    first_live = next(d for d in drawn if "live" in d["connection"].split())
    assert any(experiment_id in item for item in first_live["listed"]), drawn
