"""Reporting from the web app: a logged-in reader reports a post with a reason and a
note and is thanked; a second open report on the same post is refused with the feed's
explanation on the form, not an error page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.web.logins import logged_in
from tests.support.admin_api import Admin
from tests.support.processes import ServiceProcess, free_port
from tests.support.stack import StackSlice


@pytest.fixture(scope="module")
async def report_web(
    stack: StackSlice,
    service_logs: Path,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    env = stack.env(
        HERALD_ENVIRONMENT="development",  # cookies without `Secure` for httpx
        HERALD_WEB_AUTH="dev",
        HERALD_WEB_PUBLISHER_URL=publisher.base_url,
        HERALD_WEB_FEED_URL=feed.base_url,
        HERALD_WEB_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    process = ServiceProcess("web", env, service_logs, port=port)
    await process.start()
    yield process
    process.stop()


async def test_a_post_is_reported_once_and_a_second_report_is_explained(
    report_web: ServiceProcess, publisher: ServiceProcess
) -> None:
    async with Admin(publisher.base_url) as admin:
        channel = await admin.channel("Miracle cures")
        post = await admin.publish(channel, type="text", text="This tea cures malaria")

    browser = await logged_in(report_web, "reader-wanjiru")
    try:
        form = await browser.get(f"/c/{channel.channel_id}/report", params={"post": post.post_id})
        assert form.status_code == 200
        assert 'name="post_id"' in form.text
        assert "Misinformation" in form.text

        fields = {"reason": "misinformation", "post_id": post.post_id, "note": "Dangerous advice"}
        sent = await browser.post(f"/c/{channel.channel_id}/report", data=fields)
        assert sent.status_code == 200
        assert "Thank you" in sent.text

        again = await browser.post(f"/c/{channel.channel_id}/report", data=fields)
        assert again.status_code == 409
        assert 'role="alert"' in again.text
        assert "Send report" in again.text  # the form, with the feed's reason above it
    finally:
        await browser.aclose()
