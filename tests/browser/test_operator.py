"""The operator console and the owner's side of a suspension, in a real browser:
a report reaches the operator grouped by target and is resolved; the operator suspends
the channel with a reason; its owner sees the reason and appeals; the operator restores
it from the appeal, and the owner's console shows it active again.

Operators are accounts in the publisher's `HERALD_OPERATOR_ACCOUNTS`, so this test runs
its own publisher (same database and Kafka) with one, and a web app in front of it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Login, OpenPage
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

OPERATOR = f"op-{uuid.uuid4().hex[:6]}"
SCREENSHOTS = os.environ.get("HERALD_SCREENSHOTS_DIR")


async def _shot(page: Page, name: str) -> None:
    """Keep a screenshot when HERALD_SCREENSHOTS_DIR is set (as test_admin does)."""
    if SCREENSHOTS:
        width = (page.viewport_size or {"width": 0})["width"]
        await page.screenshot(path=f"{SCREENSHOTS}/web-{name}-{width}.png", full_page=True)


@pytest.fixture
async def operator_web(
    spawn_service: Callable[..., ServiceProcess], feed: ServiceProcess
) -> AsyncIterator[ServiceProcess]:
    publisher = await spawn_service("publisher", HERALD_OPERATOR_ACCOUNTS=OPERATOR).start()
    web = spawn_service(
        "web",
        HERALD_WEB_AUTH="dev",
        HERALD_WEB_PUBLISHER_URL=publisher.base_url,
        HERALD_WEB_FEED_URL=feed.base_url,
    )
    web.env["HERALD_WEB_PUBLIC_URL"] = web.base_url
    yield await web.start()


def _login_to(web: ServiceProcess) -> Login:
    async def login_(page: Page, account: str) -> None:
        await page.goto(f"{web.base_url}/login")
        await page.get_by_label("Account name").fill(account)
        await page.get_by_role("button", name="Log in").click()
        await page.locator(".account-name", has_text=account).wait_for()

    return login_


async def _reported_channel(publisher: ServiceProcess, feed: ServiceProcess, owner: str) -> str:
    async with httpx.AsyncClient(base_url=publisher.base_url, headers=auth(owner)) as client:
        created = await client.post(
            "/v1/channels",
            json={
                "handle": "r" + uuid.uuid4().hex[:12],
                "name": "Totally Real Prizes",
                "category": "other",
                "country": "GB",
                "language": "en",
            },
        )
        assert created.status_code == 201, created.text
        channel_id: str = created.json()["channel_id"]
    async with httpx.AsyncClient(base_url=feed.base_url, headers=auth("reporter")) as client:
        reported = await client.post(
            "/v1/reports",
            json={"channel_id": channel_id, "reason": "scam", "note": "asks for card numbers"},
        )
        assert reported.status_code == 202, reported.text
    return channel_id


async def test_report_suspend_appeal_restore(
    operator_web: ServiceProcess,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    open_page: OpenPage,
) -> None:
    login = _login_to(operator_web)
    owner = f"own-{uuid.uuid4().hex[:6]}"
    channel_id = await _reported_channel(publisher, feed, owner)
    base = operator_web.base_url

    op = await open_page(*DESKTOP)
    await login(op, OPERATOR)
    await op.goto(f"{base}/admin")
    await op.get_by_role("link", name="Operator console").click()
    report = op.locator(".card-list > li").filter(has_text=channel_id)
    await expect(report).to_contain_text("1 report on the channel")
    await expect(report).to_contain_text("scam 1")
    await expect(report).to_contain_text("asks for card numbers")
    await _shot(op, "operator-reports")
    await report.get_by_role("button", name="Mark actioned").click()
    await expect(op.locator(".notice")).to_have_text("Reports resolved.")
    await expect(op.locator(".card-list > li").filter(has_text=channel_id)).to_have_count(0)

    await op.goto(f"{base}/operator/channels?channel_id={channel_id}")
    await op.get_by_label("Reason (its admins see it)").fill("Prize scam reported by followers")
    op.once("dialog", lambda dialog: dialog.accept())
    await op.get_by_role("button", name="Suspend").click()
    await expect(op.locator(".notice")).to_have_text("Suspended.")
    await expect(op.get_by_role("table")).to_contain_text("suspended")

    owner_page = await open_page(*PHONE)
    await login(owner_page, owner)
    await owner_page.goto(f"{base}/admin/c/{channel_id}")
    suspension = owner_page.get_by_role("region", name="This channel is suspended")
    await expect(suspension).to_contain_text("Prize scam reported by followers")
    await owner_page.get_by_label("Appeal: why should it be restored?").fill(
        "We are the real club."
    )
    await owner_page.get_by_role("button", name="Send appeal").click()
    await expect(suspension).to_contain_text("Your appeal: open")
    await _shot(owner_page, "admin-suspended")

    await op.goto(f"{base}/operator/appeals")
    appeal = op.locator(".card-list > li").filter(has_text=channel_id)
    await expect(appeal).to_contain_text("We are the real club.")
    await _shot(op, "operator-appeals")
    await appeal.get_by_role("button", name="Restore channel").click()
    await expect(op.locator(".notice")).to_have_text("Decided.")

    await owner_page.reload()
    await expect(suspension).to_have_count(0)
    await expect(owner_page.locator(".facts")).to_contain_text("active")

    # The badge and the alert tier: the owner's console shows both, compose offers alerts.
    await op.goto(f"{base}/operator/channels?channel_id={channel_id}")
    await op.get_by_role("button", name="Verify").click()
    await expect(op.locator(".notice")).to_have_text("Verified.")
    await op.get_by_role("button", name="Grant alerts").click()
    await expect(op.locator(".notice")).to_have_text("Alerts granted.")
    await owner_page.reload()
    await expect(owner_page.locator(".facts")).to_contain_text("Verifiedyes")
    await expect(owner_page.locator(".facts")).to_contain_text("Alertsgranted")
    await owner_page.get_by_role("link", name="Compose").click()
    await expect(owner_page.get_by_label("Alert: reaches followers")).to_be_visible()
