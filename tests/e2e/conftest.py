"""Browser tests: one headless chromium for the whole session, a fresh page per test.

    async def test_report_page(page, screenshot):
        await page.goto(url)
        ...
        await screenshot(page, "report")    # -> .artifacts/report.png

playwright's async API, on one event loop for the whole session (every async test under
tests/e2e/ runs on it), so one browser serves every test. Not the sync API: while it is
active it leaves its own loop marked running in the thread, and every later asyncio.run()
(the server fixtures use it) fails. A failing test leaves `.artifacts/<test id>-failed.png`.
A missing chromium fails the run under CI=true (infra/up.sh installs it) and skips elsewhere.

The server fixtures of tests/integration (real Kafka, PostgreSQL, MongoDB, workers, the LLM
simulator) are imported here, so e2e tests can run the whole stack behind the page.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright
from pytest_asyncio import is_async_test

from tests.e2e.browser import artifact_path, chromium_path
from tests.integration.conftest import Process, free_port, wait_for_port
from tests.integration.conftest import (  # noqa: F401  (fixtures, used by name)
    migrated,
    session_group,
    settings,
    simulator,
    start_worker,
    topics_ready,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if is_async_test(item) and here in Path(str(item.fspath)).parents:
            item.add_marker(SESSION_LOOP, append=False)
        if "page" in item.fixturenames:
            # The page is set up last, after the servers the test runs (fixtures set up in
            # this order and torn down in reverse), so a failure's picture is taken while
            # they still run. It was taken after the API had stopped: a failed dashboard
            # test's picture said "reconnecting…", which was the teardown, not the failure.
            item.fixturenames.remove("page")
            item.fixturenames.append("page")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "chromium not installed (bash infra/chromium.sh install)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    async with async_playwright() as playwright:
        # headless=True is chromium's new headless mode: the same renderer as a window.
        browser = await playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # The page fixture's teardown reads this to keep a picture of what failed.
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, request) -> AsyncIterator[Page]:
    """A page in its own context (no cookies or storage shared between tests), 1280×900."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        yield page
    finally:
        if request.node.stash.get(FAILED, False):
            await page.screenshot(path=artifact_path(f"{request.node.name}-failed"),
                                  full_page=True)
        await context.close()


@pytest.fixture
def api_url(migrated, topics_ready, tmp_path) -> Iterator[str]:  # noqa: F811
    """`promptopt api` on a free port, on the real servers; its base URL."""
    port = free_port()
    proc = Process([sys.executable, "-m", "promptopt.cli", "api", "--port", str(port)],
                   dict(os.environ), tmp_path / "api.log")
    try:
        wait_for_port(port, proc, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture
def screenshot() -> Callable[..., Awaitable[Path]]:
    """await screenshot(page, name, full_page=True) -> the PNG written under .artifacts/."""

    async def take(page: Page, name: str, *, full_page: bool = True) -> Path:
        path = artifact_path(name)
        await page.screenshot(path=path, full_page=full_page)
        return path

    return take
