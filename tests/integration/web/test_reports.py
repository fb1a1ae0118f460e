"""Reporting from the web app: a logged-in reader reports a post with a reason and a
note and is thanked; a second open report on the same post is refused with the feed's
explanation on the form, not an error page."""

from __future__ import annotations

from tests.integration.web.logins import logged_in
from tests.support.admin_api import Admin
from tests.support.processes import ServiceProcess


async def test_a_post_is_reported_once_and_a_second_report_is_explained(
    api_web: ServiceProcess, publisher: ServiceProcess
) -> None:
    async with Admin(publisher.base_url) as admin:
        channel = await admin.channel("Miracle cures")
        post = await admin.publish(channel, type="text", text="This tea cures malaria")

    browser = await logged_in(api_web, "reader-wanjiru")
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
