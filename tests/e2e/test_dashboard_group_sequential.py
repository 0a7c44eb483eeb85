"""The dashboard in a real browser on a group-sequential experiment, on the real stack (the
workers of test_dashboard.py, Kafka, PostgreSQL, MongoDB, the LLM simulator): its decision
box says at which planned look the round stopped and why ("stopped for efficacy at look 2 of
3"), and the evidence line names the bound the variation's z crossed. The picture is kept
as .artifacts/dashboard-group-sequential.png."""

from __future__ import annotations

import time

import httpx

from tests.e2e.test_dashboard import (  # noqa: F401  (fixtures, used by name)
    api_key,
    slow_llm,
    start_role_workers,
)
from tests.e2e.test_group_sequential_report import BAD, GOOD, THINGS, TUNED

# The API's `expected` must equal the answer: the control asks for one word too, so the
# simulated model answers it right 6 times in 10 (the output-format trait), the variant
# every time.
PLAIN = "What is the sentiment of this review? Respond with only one word. {{review}}"


def group_sequential_test(api_base: str) -> dict:
    """40 sentiment cases on sim/medium, looks at 14, 27 and 40 pairs."""
    reviews = [(f"The {thing} is {word}.", label) for words, label in
               ((GOOD, "positive"), (BAD, "negative")) for word in words for thing in THINGS]
    return {
        "name": "Dashboard group-sequential e2e",
        "prompt": PLAIN,
        "variations": [{"name": "plain", "prompt": PLAIN}, {"name": "tuned", "prompt": TUNED}],
        "domain": "classification",
        "test_cases": [{"id": f"t{i}", "vars": {"review": review}, "expected": label}
                       for i, (review, label) in enumerate(reviews)],
        "models": [{"id": "sim/medium", "temperature": 0, "api_base": api_base}],
        "analysis": {"design": "group-sequential", "looks": 3, "metric": "pass"},
    }


async def test_dashboard_says_which_look_stopped_a_group_sequential_experiment(
        page, screenshot, start_worker, topics_ready, api_url, api_key, slow_llm):  # noqa: F811
    await start_role_workers(start_worker, topics_ready.kafka_bootstrap)
    async with httpx.AsyncClient(base_url=api_url, timeout=30,
                                 headers={"Authorization": f"Bearer {api_key}"}) as http:
        accepted = await http.post("/api/v1/test/create", json=group_sequential_test(slow_llm))
    assert accepted.status_code == 201, accepted.text
    experiment_id = accepted.json()["data"]["experiment_id"]

    await page.goto(f"{api_url}/?key={api_key}&experiment={experiment_id}")
    await page.wait_for_selector("#connection.live", timeout=30_000)
    deadline = time.monotonic() + 120
    while await page.locator("#decision .badge.final").count() == 0:
        assert time.monotonic() < deadline, "no final decision on the page after 120 s"
        await page.wait_for_timeout(100)
    await screenshot(page, "dashboard-group-sequential")

    assert await page.locator("#decision strong").inner_text() == "Winner: tuned"
    reason = await page.locator("#decision .reason").inner_text()
    look = int(reason.split("stopped for efficacy at look ", 1)[1].split(" of 3", 1)[0])
    assert look in (1, 2), reason  # before the last look: the round stopped early
    pairs = (14, 27)[look - 1]
    assert f"group-sequential look {look} of 3 at {pairs} pairs" in reason
    assert "crossed the efficacy bound" in reason
    evidence = await page.locator("#decision .evidence").inner_text()
    assert evidence.startswith("Decided on ") and "repeated CIs over a family of 1" in evidence
    assert (f"tuned: group-sequential look {look} of 3, bound z=" in evidence
            and f"at {pairs} pairs): crossed the efficacy bound." in evidence), evidence
    done = int((await page.locator("#trials").inner_text()).split(" / ")[0])
    assert 2 * pairs <= done < 80, done
    assert "decided early" in await page.locator("#trials-note").inner_text()
