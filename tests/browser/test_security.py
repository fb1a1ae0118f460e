"""Security a browser enforces: the CSP on every page (and no page breaks it), a post's
`<script>` shown as text and never run, forms refused without their CSRF token."""

from __future__ import annotations

import uuid

from playwright.async_api import ConsoleMessage, Page, expect

from tests.browser.conftest import Login
from tests.support.admin_api import Admin
from tests.support.processes import ServiceProcess

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>'


def _csp_violations(page: Page) -> list[str]:
    """Console messages of CSP violations on `page` from now on (Chromium logs each)."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.on("console", on_console)
    return found


async def test_pages_carry_the_csp_and_break_none_of_it(
    web: ServiceProcess, desktop_page: Page, login: Login
) -> None:
    page = desktop_page
    violations = _csp_violations(page)
    response = await page.goto(f"{web.base_url}/login")
    assert response is not None
    headers = await response.all_headers()
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"]
    await login(page, f"csp-{uuid.uuid4().hex[:8]}")
    # htmx and the app's scripts ran (no inline script or style was needed for it).
    await page.wait_for_function("window.htmx !== undefined")
    for path in ("/", "/directory", "/offline"):
        await page.goto(f"{web.base_url}{path}")
        await page.locator("main h1").first.wait_for()
    assert violations == []


async def test_a_post_with_script_renders_as_text(
    web: ServiceProcess, publisher: ServiceProcess, phone_page: Page
) -> None:
    page = phone_page
    async with Admin(publisher.base_url) as admin:
        channel = await admin.channel(f"Escaping {uuid.uuid4().hex[:6]}")
        post = await admin.publish(channel, type="text", text=HOSTILE)
    await page.goto(f"{web.base_url}/c/{channel.channel_id}/{post.seq}")
    body = page.locator(f"#post-{post.post_id}")
    await expect(body).to_contain_text("<script>window.pwned = 1</script>")
    await expect(body).to_contain_text("<b>bold</b>")
    assert await body.locator("script, img[src='x'], b").count() == 0
    assert await page.evaluate("window.pwned === undefined")


async def test_a_form_without_its_csrf_token_is_refused(
    web: ServiceProcess, phone_page: Page, login: Login
) -> None:
    page = phone_page
    account = f"csrf-{uuid.uuid4().hex[:8]}"
    await login(page, account)
    # What another site's form would send: the browser's cookies, but not the token.
    refused = await page.request.post(f"{web.base_url}/logout", form={"x": "1"})
    assert refused.status == 403
    assert "did not come from this site" in await refused.text()
    await page.reload()
    await expect(page.locator(".account-name")).to_have_text(account)
    # The page's own form carries the token and works.
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator(".account-name")).to_have_count(0)
