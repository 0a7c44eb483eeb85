"""The pages under their Content-Security-Policy in a real browser (issue 12, item 8): the
dashboard and the Swagger UI run with no policy violation (no inline script, no CDN), and
the dashboard cannot be framed."""

from __future__ import annotations

import uuid

import asyncpg

from api.accounts import create_key
from api.auth import hash_key, new_api_key

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
"""


async def test_dashboard_and_docs_run_with_no_csp_violation(page, screenshot, api_url,
                                                            settings):
    key = new_api_key()
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        await create_key(conn, f"csp-{uuid.uuid4().hex[:8]}@example.com", hash_key(key),
                         team="csp")
    finally:
        await conn.close()
    await page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    response = await page.goto(f"{api_url}/?key={key}")
    assert response.headers["x-frame-options"] == "DENY"
    await page.wait_for_selector("#connection.live", timeout=30_000)  # its script ran
    assert await page.evaluate("window.__csp") == []

    await page.goto(f"{api_url}/api/v1/docs")
    await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "promptopt" in await page.locator(".swagger-ui .info .title").inner_text()
    await page.wait_for_selector(".swagger-ui .btn.authorize", timeout=10_000)  # bearer
    await screenshot(page, "api-docs")
    assert await page.evaluate("window.__csp") == []
    assert not [m for m in console if "Content Security Policy" in m], console

    # Framed by another page (here a data: URL), the dashboard refuses to render.
    await page.set_content(f'<iframe id="f" src="{api_url}/"></iframe>')
    await page.wait_for_timeout(1500)  # time enough for the frame to load, were it allowed
    assert await page.frame_locator("#f").locator("#experiments").count() == 0
