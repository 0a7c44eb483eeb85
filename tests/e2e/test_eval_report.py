"""The HTML report of an eval, rendered in headless chromium: the statistics table, the
decision, and per test case the arms side by side; the "only failures" filter works.
The picture is kept as .artifacts/eval-report.png."""

from __future__ import annotations

from pathlib import Path

from promptopt.embedded import run_experiment
from promptopt.experiment_file import experiment_id_for, read_experiment
from promptopt.outputs import write_outputs
from promptopt.settings import Settings

CORPUS = Path(__file__).parents[1] / "corpus" / "promptfoo"


async def test_the_html_report_shows_statistics_decision_and_arms_side_by_side(
        page, screenshot, tmp_path):
    spec = read_experiment(CORPUS / "llm-rubric-closedqa").spec
    result = await run_experiment(spec, experiment_id_for(spec), settings=Settings(),
                                  timeout_s=120)
    [report] = write_outputs(result, [tmp_path / "report.html"])

    await page.goto(report.as_uri())
    stats_rows = page.locator("#stats-1 tr")
    assert await stats_rows.count() == 1 + len(result.rounds[0].variations)
    assert "(control)" in await stats_rows.nth(1).inner_text()
    decision = await page.locator("#decision-1").inner_text()
    assert decision.startswith("Decision: ") and result.finals()[0].reason[:40] in decision

    header = page.locator("#cases-1 tr").first.locator("th")
    assert await header.count() == 1 + len(result.rounds[0].variations)  # test case + arms
    cases = page.locator("#cases-1 tr:not(:first-child)")
    assert await cases.count() == len(spec.test_cases)
    badges = await page.locator("#cases-1 .badge").all_inner_texts()
    assert len(badges) == len(result.scored) and set(badges) <= {"PASS", "FAIL"}
    assert "Absolutely love this blender" in await cases.first.inner_text()
    await screenshot(page, "eval-report")

    # The filter hides test cases where every arm passed, keeps the others.
    passing = page.locator("#cases-1 tr.all-passed")
    failing = page.locator("#cases-1 tr.has-failure")
    await page.locator("#only-failures").check()
    for i in range(await passing.count()):
        assert not await passing.nth(i).is_visible()
    for i in range(await failing.count()):
        assert await failing.nth(i).is_visible()
