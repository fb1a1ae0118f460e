"""The admin console in a real browser: create a channel, upload a photo (with its
progress), post a poll, watch both reach `published`, read insights; an invite's code is
shown once; a resubmitted compose form posts once; non-operators find no operator console.

Set `HERALD_SCREENSHOTS_DIR` to keep screenshots of the console's pages at phone and
desktop widths there (the README's come from it).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path

import httpx
from PIL import Image
from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Login, OpenPage
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

SCREENSHOTS = os.environ.get("HERALD_SCREENSHOTS_DIR")


def _handle() -> str:
    return "t" + uuid.uuid4().hex[:12]


def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "sunrise.png"
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), (230, 140, 40)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


async def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        width = (page.viewport_size or {"width": 0})["width"]
        await page.screenshot(path=Path(SCREENSHOTS) / f"web-{name}-{width}.png", full_page=True)


async def _create_channel(page: Page, web: ServiceProcess, handle: str, name: str) -> str:
    """Create a channel through the form; returns its console URL."""
    await page.goto(f"{web.base_url}/admin")
    await page.get_by_role("link", name="Create a channel").click()
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Description").fill("Morning news from the valley.")
    await page.get_by_label("Category").select_option("news")
    await page.get_by_label("Country").fill("de")
    await page.get_by_label("Language").fill("de")
    await page.get_by_role("button", name="Create channel").click()
    await expect(page.locator(".notice", has_text="Channel created.")).to_be_visible()
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url.split("?")[0]


async def _wait_published(page: Page) -> str:
    """Wait on the post page until the status says published; returns the post id."""
    status = page.locator("#post-status")
    await expect(status).to_have_attribute("data-status", "published")
    await expect(status).to_contain_text("published as #")
    return page.url.rstrip("/").rsplit("/", 1)[1]


async def _follower_activity(feed: ServiceProcess, channel_id: str, photo: str, poll: str) -> None:
    """A follower (through the feed API) follows, sees both posts, reacts and votes."""
    headers = auth(f"fan-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(base_url=feed.base_url, headers=headers) as client:
        for method, path, body in (
            ("PUT", f"/v1/channels/{channel_id}/follow", None),
            ("POST", "/v1/views", {"post_ids": [photo, poll]}),
            ("PUT", f"/v1/posts/{photo}/reaction", {"emoji": "👍"}),
            ("PUT", f"/v1/posts/{poll}/vote", {"options": [0, 2]}),
        ):
            response = await client.request(method, path, json=body)
            assert response.is_success, (path, response.status_code, response.text)


async def _reload_until(page: Page, selector: str, text: str, tries: int = 40) -> None:
    """Counters are aggregated after the API answers: reload until the page shows them."""
    for _ in range(tries):
        if text in await page.locator(selector).inner_text():
            return
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(page.locator(selector)).to_contain_text(text)


async def test_admin_journey_create_upload_poll_published_insights(
    web: ServiceProcess, feed: ServiceProcess, open_page: OpenPage, login: Login, tmp_path: Path
) -> None:
    page = await open_page(*DESKTOP)
    account = f"ada-{uuid.uuid4().hex[:6]}"
    await login(page, account)
    console = await _create_channel(page, web, _handle(), "Valley Morning")
    await _shot(page, "admin-overview")

    # A photo: uploaded as soon as it is picked, with progress, then published.
    await page.goto(f"{console}/compose")
    await page.get_by_label("Type").select_option("photo")
    await expect(page.get_by_label("Text")).to_be_hidden()
    await page.get_by_label("File").set_input_files(_photo(tmp_path))
    upload_status = page.locator("#c-upload-status")
    await expect(upload_status).to_have_attribute("data-uploaded", re.compile(r"^[0-9a-f-]{36}$"))
    await expect(upload_status).to_contain_text("Uploaded sunrise.png (photo")
    await expect(page.locator("#c-progress")).to_have_attribute("value", "100")
    await page.get_by_label("Caption").fill("Sunrise over the ridge")
    await page.get_by_role("button", name="Publish").click()
    photo_id = await _wait_published(page)

    # A poll with several answers allowed.
    await page.goto(f"{console}/compose")
    await page.get_by_label("Type").select_option("poll")
    await page.get_by_label("Question").fill("Coffee or tea?")
    await page.get_by_label("Option 1 (required)").fill("Coffee")
    await page.get_by_label("Option 2 (required)").fill("Tea")
    await page.get_by_label("Option 3").fill("Both")
    await page.get_by_label("Voters may pick several options").check()
    await _shot(page, "admin-compose")
    await page.get_by_role("button", name="Publish").click()
    poll_id = await _wait_published(page)
    await expect(page.locator("#post-status")).to_contain_text("#2")
    await _follower_activity(feed, console.rsplit("/", 1)[1], photo_id, poll_id)

    # The posts list shows both, newest first, with the text readers see.
    await page.goto(f"{console}/posts")
    await expect(page.locator("#post-2")).to_contain_text("Coffee or tea?")
    await expect(page.locator("#post-1")).to_contain_text("Sunrise over the ridge")

    # Insights: the follower, per-post views, reactions and votes, one bar per post.
    await page.get_by_role("link", name="Insights").click()
    await _reload_until(page, "main", "👍 1")
    await _reload_until(page, "#followers", "1")
    await expect(page.locator("#followers-change")).to_have_text("+1")
    table = page.get_by_role("table", name="Per post, newest first")
    rows = table.get_by_role("row")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(1).get_by_role("rowheader")).to_contain_text("#2 poll")
    await expect(rows.nth(1)).to_contain_text("1 / 0 / 1")
    await expect(rows.nth(2)).to_contain_text("👍 1")
    await _reload_until(page, "table tbody tr:nth-child(1) td:nth-child(2)", "1")
    await expect(page.locator("svg.bar-chart rect.bar")).to_have_count(2)
    await _shot(page, "admin-insights")
    if SCREENSHOTS:
        phone = await open_page(*PHONE)
        await login(phone, account)
        for name, path in (
            ("overview", ""),
            ("compose", "/compose"),
            ("posts", "/posts"),
            ("insights", "/insights"),
        ):
            await phone.goto(console + path)
            await _shot(phone, f"admin-{name}")


async def _reload_until_gone(page: Page, selector: str, tries: int = 40) -> None:
    for _ in range(tries):
        if not await page.locator(selector).count():
            return
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(page.locator(selector)).to_have_count(0)


async def test_schedule_edit_cancel_pin_delete_settings_and_admins(
    web: ServiceProcess, open_page: OpenPage, login: Login, tmp_path: Path
) -> None:
    page = await open_page(*PHONE)
    await login(page, f"eve-{uuid.uuid4().hex[:6]}")
    console = await _create_channel(page, web, _handle(), "Harbour Notes")

    # Scheduled two hours ahead in the browser's own time zone; edited, then cancelled.
    await page.goto(f"{console}/compose")
    await page.get_by_label("Text").fill("Ferry timetable changes tomorrow")
    later = await page.evaluate(
        """() => { const d = new Date(Date.now() + 2 * 3600e3);
        d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
        return d.toISOString().slice(0, 16); }"""
    )
    await page.get_by_label("Publish at").fill(later)
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#post-status")).to_have_attribute("data-status", "scheduled")
    await page.get_by_role("link", name="Scheduled posts").click()
    item = page.locator(".card-list > li")
    await expect(item).to_contain_text("Ferry timetable changes tomorrow")
    await item.get_by_text("Edit text").click()
    await item.get_by_label("New text").fill("Ferry timetable: no changes after all")
    await item.get_by_role("button", name="Save edit").click()
    await expect(page.locator(".notice")).to_contain_text("Edit sent")
    await expect(item).to_contain_text("no changes after all")
    page.once("dialog", lambda dialog: dialog.accept())
    await item.get_by_role("button", name="Cancel post").click()
    await expect(page.locator(".notice")).to_have_text("Scheduled post cancelled.")
    await expect(page.locator(".card-list > li")).to_have_count(0)

    # A published post: pinned, edited (readers' text changes), deleted.
    await page.goto(f"{console}/compose")
    await page.get_by_label("Text").fill("Harbour closed for the regatta")
    await page.get_by_role("button", name="Publish").click()
    await _wait_published(page)
    await page.goto(f"{console}/posts")
    post = page.locator("#post-1")
    await post.get_by_role("button", name="Pin post #1").click()
    await expect(page.locator(".notice")).to_have_text("Pinned.")
    await expect(post.locator(".badge")).to_have_text("pinned")
    await post.get_by_text("Edit text").click()
    await post.get_by_label("New text").fill("Harbour open again")
    await post.get_by_role("button", name="Save edit").click()
    await _reload_until(page, "#post-1", "Harbour open again")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator("#post-1").get_by_role("button", name="Delete post #1").click()
    await expect(page.locator(".notice")).to_have_text("Deleted for everyone.")
    await _reload_until_gone(page, "#post-1")

    # Settings: a new name and an avatar; admins: add one, remove them.
    await page.get_by_role("link", name="Settings").click()
    await page.get_by_label("Name").fill("Harbour Notes Daily")
    await page.get_by_label("Posts expire after").fill("7")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator(".notice")).to_have_text("Saved.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Harbour Notes Daily")
    await expect(page.get_by_label("Posts expire after")).to_have_value("7")
    await page.get_by_label("Photo (JPEG, PNG or WebP)").set_input_files(_photo(tmp_path))
    await page.get_by_role("button", name="Upload avatar").click()
    await expect(page.locator(".notice")).to_have_text("Saved.")
    await expect(page.locator(".console-head img.avatar")).to_have_count(1)

    await page.get_by_role("link", name="Admins").click()
    await page.get_by_label("Account id to make admin").fill("frank")
    await page.get_by_role("button", name="Add admin").click()
    await expect(page.locator(".card-list")).to_contain_text("frank")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Remove frank").click()
    await expect(page.locator(".card-list")).not_to_contain_text("frank")
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.get_by_role("table")).to_contain_text("admin.removed")


async def test_a_resubmitted_compose_form_posts_once(
    web: ServiceProcess, open_page: OpenPage, login: Login
) -> None:
    page = await open_page(*PHONE)
    await login(page, f"bo-{uuid.uuid4().hex[:6]}")
    console = await _create_channel(page, web, _handle(), "Double Click Daily")
    await page.goto(f"{console}/compose")
    form = page.locator("form#compose")
    fields: dict[str, str | float | bool] = {
        "csrf_token": await form.locator("[name=csrf_token]").input_value(),
        "idempotency_key": await form.locator("[name=idempotency_key]").input_value(),
        "type": "text",
        "text": "Posted once, however often it is sent",
    }
    # The same form sent twice (a double click, a resubmission after a lost answer).
    answers = [
        await page.request.post(f"{console}/compose", form=fields, max_redirects=0)
        for _ in range(2)
    ]
    assert [a.status for a in answers] == [303, 303]
    locations = {a.headers["location"] for a in answers}
    assert len(locations) == 1, locations

    await page.goto(web.base_url + locations.pop())
    await _wait_published(page)
    await page.goto(f"{console}/posts")
    await expect(page.locator(".card-list > li")).to_have_count(1)


async def test_an_invite_code_is_shown_once_and_can_be_revoked(
    web: ServiceProcess, open_page: OpenPage, login: Login
) -> None:
    page = await open_page(*PHONE)
    await login(page, f"cy-{uuid.uuid4().hex[:6]}")
    handle = _handle()
    console = await _create_channel(page, web, handle, "Invite Only Club")
    # The console lists it on this browser, and opens it by handle.
    await page.goto(f"{web.base_url}/admin")
    await expect(page.get_by_role("link", name="Invite Only Club")).to_be_visible()
    await page.get_by_label("Handle or channel id").fill(f"@{handle}")
    await page.get_by_role("button", name="Open").click()
    await page.wait_for_url(console)
    await page.goto(f"{console}/invites")
    await page.get_by_label("Maximum uses").fill("5")
    await page.get_by_role("button", name="Create invite").click()
    code = await page.locator("#invite-code").inner_text()
    assert len(code) >= 22
    # The link names the channel too: the follower's /join page follows it with the code.
    channel_id = console.rsplit("/", 1)[1]
    await expect(page.get_by_label("Invite link")).to_have_value(
        f"{web.base_url}/join/{code}?channel={channel_id}"
    )
    await _shot(page, "admin-invites")

    await page.goto(f"{console}/invites")
    await expect(page.locator("#invite-code")).to_have_count(0)
    assert code not in await page.content()
    row = page.locator("#invites > li").first
    await expect(row).to_contain_text("live · 0 / 5 uses")

    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Revoke").click()
    await expect(page.locator(".notice", has_text="Invite revoked.")).to_be_visible()
    await expect(page.locator("#invites > li").first).to_contain_text("revoked · 0 / 5 uses")


async def test_the_operator_console_is_not_found_for_others(
    web: ServiceProcess, open_page: OpenPage, login: Login
) -> None:
    page = await open_page(*PHONE)
    await login(page, f"dee-{uuid.uuid4().hex[:6]}")
    await page.goto(f"{web.base_url}/admin")
    await expect(page.get_by_role("link", name="Create a channel")).to_be_visible()
    await expect(page.get_by_role("link", name="Operator console")).to_have_count(0)
    response = await page.goto(f"{web.base_url}/operator")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", name="Operator console")).to_have_count(0)
