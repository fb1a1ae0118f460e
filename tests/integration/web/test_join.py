"""Joining an invite-only channel through `/join/{code}?channel={channel_id}`: a good
code makes the logged-in visitor a follower who can then read the channel's page; a bad
one is explained on the page and follows nothing."""

from __future__ import annotations

from tests.integration.web.logins import logged_in
from tests.support.admin_api import Admin
from tests.support.processes import ServiceProcess


async def test_an_invite_link_makes_a_follower_and_a_bad_one_is_explained(
    api_web: ServiceProcess, publisher: ServiceProcess
) -> None:
    async with Admin(publisher.base_url) as admin:
        channel = await admin.channel(
            "Ward 7 staff",
            settings={"reactions": "all", "allowed_reactions": [], "visibility": "invite"},
        )
        await admin.publish(channel, type="text", text="Rota for next week")
        response = await admin.http.post(f"/v1/channels/{channel.channel_id}/invites", json={})
        assert response.status_code == 201, response.text
        code = response.json()["code"]

    browser = await logged_in(api_web, "nurse-baraka")
    try:
        assert (await browser.get(f"/c/{channel.channel_id}")).status_code == 404

        page = await browser.get(f"/join/{code}", params={"channel": channel.channel_id})
        assert page.status_code == 200
        assert "Join and follow" in page.text

        wrong = await browser.post(
            "/join/not-a-real-code-at-all", data={"channel": channel.channel_id}
        )
        assert wrong.status_code == 404
        assert "This invite is not valid" in wrong.text
        assert (await browser.get(f"/c/{channel.channel_id}")).status_code == 404

        joined = await browser.post(f"/join/{code}", data={"channel": channel.channel_id})
        assert joined.status_code == 303
        assert joined.headers["location"] == f"/c/{channel.channel_id}"
        page = await browser.get(f"/c/{channel.channel_id}")
        assert page.status_code == 200
        assert "Rota for next week" in page.text
        assert "Unfollow Ward 7 staff" in page.text
    finally:
        await browser.aclose()
