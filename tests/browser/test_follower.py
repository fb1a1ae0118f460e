"""The follower's journey in a real browser, on a phone-sized page: log in, find a channel
in the directory, follow it, vote and change the vote, see a new post arrive live on the
Updates tab (no reload) with its unread badge, react, watch an edit and a delete arrive
live on the channel page, and find the badge cleared once the post was seen."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from tests.browser.conftest import Login
from tests.support.admin_api import Admin
from tests.support.processes import ServiceProcess


async def wait_live(page: Page) -> None:
    """Until the page's event stream is open (posts published after it arrive live)."""
    await page.locator("html[data-live='open']").wait_for(state="attached")


async def wait_read_through(page: Page, seq: int) -> None:
    """Until the page's read marker for posts up to `seq` was acknowledged."""
    await page.wait_for_function(
        "seq => Number(document.getElementById('posts')?.dataset.readThrough || 0) >= seq", arg=seq
    )


async def test_follower_journey(
    web: ServiceProcess, publisher: ServiceProcess, phone_page: Page, login: Login
) -> None:
    page = phone_page
    word = f"clinic{uuid.uuid4().hex[:8]}"
    async with Admin(publisher.base_url) as admin:
        channel = await admin.channel(f"Nairobi {word.capitalize()} News")
        poll = await admin.publish(
            channel,
            type="poll",
            poll={"question": "Open on Sundays?", "options": ["Yes", "No"], "multiple": False},
        )

        await login(page, f"reader-{uuid.uuid4().hex[:8]}")
        await expect(page.get_by_text("You follow no channels yet")).to_be_visible()

        # Find it in the directory and follow it.
        await page.get_by_role("link", name="Directory").first.click()
        await page.get_by_label("Search").fill(word)
        await page.get_by_role("button", name="Search").click()
        await page.get_by_role("link", name=re.compile(channel.name)).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(channel.name)
        await page.get_by_role("button", name=f"Follow {channel.name}").click()
        await expect(page.get_by_role("button", name=f"Unfollow {channel.name}")).to_be_visible()

        # Vote, then change the vote: the counts follow (aggregated by fan-out, live).
        poll_post = page.locator(f"#post-{poll.post_id}")
        await poll_post.get_by_label("Yes").check()
        await poll_post.get_by_role("button", name="Vote").click()
        await expect(poll_post.locator("[data-vote-count='0']")).to_have_text("1")
        await poll_post.get_by_label("No").check()
        await poll_post.get_by_role("button", name="Change vote").click()
        await expect(poll_post.locator("[data-vote-count='1']")).to_have_text("1")
        await expect(poll_post.locator("[data-vote-count='0']")).to_have_text("0")
        await wait_read_through(page, poll.seq)

        # The Updates tab: a new post appears live, with an unread badge, without a reload.
        await page.get_by_role("link", name="Updates").click()
        row = page.locator(f".update[data-channel-id='{channel.channel_id}']")
        await expect(row).to_be_visible()
        await expect(row.locator(".badge")).to_have_count(0)
        await wait_live(page)
        await page.evaluate("window.notReloaded = true")
        text = await admin.publish(channel, type="text", text="Vaccination day moved to Friday")
        await expect(row.locator(".badge")).to_contain_text("1")
        await expect(row).to_contain_text("Vaccination day moved to Friday")
        assert await page.evaluate("window.notReloaded === true")

        # Read it: react; an edit and a delete arrive live.
        await row.get_by_role("link").click()
        text_post = page.locator(f"#post-{text.post_id}")
        await expect(text_post).to_contain_text("Vaccination day moved to Friday")
        await wait_read_through(page, text.seq)
        await wait_live(page)
        thumbs = text_post.locator("button[data-emoji='👍']")
        await thumbs.click()
        await expect(thumbs).to_have_attribute("aria-pressed", "true")
        await expect(thumbs.locator(".count")).to_have_text("1")
        await admin.edit(channel, text, text="Vaccination day moved to Saturday")
        await expect(text_post.locator(".post-text")).to_have_text(
            "Vaccination day moved to Saturday"
        )
        await expect(text_post).to_contain_text("edited")
        await admin.delete(channel, poll)
        await expect(page.locator(f"#post-{poll.post_id}")).to_have_count(0)

        # Back on the Updates tab the channel has nothing unread.
        await page.get_by_role("link", name="Updates").click()
        await expect(row).to_contain_text("Vaccination day moved to Saturday")
        await expect(row.locator(".badge")).to_have_count(0)
