"""Public channel and post pages over HTTP, without a browser: what a shared link shows
to someone not logged in (Open Graph and Twitter card tags, the channel's language), and
the 404 of everything the feed would not show them — a deleted, expired or unknown post,
an invite-only channel, a suspended channel. A photo shows as a thumbnail; the photo itself
comes through web whole or by range."""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import asyncpg
import httpx
import pytest
from PIL import Image

from tests.integration.web.conftest import start_web
from tests.support.admin_api import Admin, Channel, Post
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import operator_auth


@pytest.fixture(scope="module")
async def public_web(
    stack: StackSlice,
    service_logs: Path,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
) -> AsyncIterator[ServiceProcess]:
    process = await start_web(
        stack,
        service_logs,
        publisher_url=publisher.base_url,
        feed_url=feed.base_url,
        development=False,
    )
    yield process
    process.stop()


@pytest.fixture
async def visitor(public_web: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that is not logged in."""
    async with httpx.AsyncClient(base_url=public_web.base_url, timeout=30) as http:
        yield http


@pytest.fixture
async def admin(publisher: ServiceProcess) -> AsyncIterator[Admin]:
    async with Admin(publisher.base_url) as owner:
        yield owner


def meta(html: str, key: str) -> str | None:
    """The content of `<meta property|name="key" content="…">` (unescaped), or None."""
    found = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    return unescape(found.group(1)) if found else None


async def test_a_shared_post_link_previews_the_channel_and_the_post(
    visitor: httpx.AsyncClient, admin: Admin, public_web: ServiceProcess
) -> None:
    channel = await admin.channel("Kliniki ya Jamii", language="sw")
    post = await admin.publish(channel, type="text", text="Chanjo ya surua Ijumaa <b>saa 3</b>")

    page = await visitor.get(f"/c/{channel.handle}")
    assert page.status_code == 200
    assert '<html lang="sw">' in page.text
    assert meta(page.text, "og:title") == "Kliniki ya Jamii"
    assert meta(page.text, "og:url") == f"{public_web.base_url}/c/{channel.handle}"
    assert meta(page.text, "twitter:card") == "summary"
    assert "Chanjo ya surua Ijumaa &lt;b&gt;saa 3&lt;/b&gt;" in page.text

    page = await visitor.get(f"/c/{channel.channel_id}/{post.seq}")
    assert page.status_code == 200
    assert meta(page.text, "og:type") == "article"
    assert meta(page.text, "og:title") == "Kliniki ya Jamii"
    assert meta(page.text, "og:description") == "Chanjo ya surua Ijumaa <b>saa 3</b>"
    assert meta(page.text, "twitter:description") == "Chanjo ya surua Ijumaa <b>saa 3</b>"
    assert meta(page.text, "og:url") == f"{public_web.base_url}/c/{channel.channel_id}/{post.seq}"
    # A visitor is offered the login, not forms that need it.
    assert "Log in to follow" in page.text
    assert 'action="/c/' not in page.text


async def expect_not_found(visitor: httpx.AsyncClient, channel: Channel, post: Post) -> None:
    response = await visitor.get(f"/c/{channel.channel_id}/{post.seq}")
    assert response.status_code == 404
    assert "Traceback" not in response.text
    assert post.post_id not in response.text


async def test_deleted_expired_and_unknown_posts_answer_404(
    visitor: httpx.AsyncClient, admin: Admin, db: asyncpg.Pool
) -> None:
    channel = await admin.channel("Ward 7 notices")
    deleted = await admin.publish(channel, type="text", text="Posted by mistake")
    expired = await admin.publish(channel, type="text", text="Last month's schedule")
    kept = await admin.publish(channel, type="text", text="Still here")
    await admin.delete(channel, deleted)
    await db.execute(
        "UPDATE posts SET expires_at = now() - interval '1 second' WHERE post_id = $1",
        uuid.UUID(expired.post_id),
    )

    assert (await visitor.get(f"/c/{channel.channel_id}/{kept.seq}")).status_code == 200
    await expect_not_found(visitor, channel, expired)
    unknown = await visitor.get(f"/c/{channel.channel_id}/{kept.seq + 100}")
    assert unknown.status_code == 404
    # The delete reaches the feed through fan-out: the page goes once it has.
    deadline = time.monotonic() + 30
    while (await visitor.get(f"/c/{channel.channel_id}/{deleted.seq}")).status_code != 404:
        assert time.monotonic() < deadline, "the deleted post is still shown"
        await asyncio.sleep(0.2)
    await expect_not_found(visitor, channel, deleted)
    listing = await visitor.get(f"/c/{channel.channel_id}")
    assert "Still here" in listing.text
    assert "Posted by mistake" not in listing.text
    assert "Last month&#39;s schedule" not in listing.text


async def test_invite_only_and_suspended_channels_show_nothing(
    visitor: httpx.AsyncClient, admin: Admin, publisher: ServiceProcess
) -> None:
    private = await admin.channel(
        "Staff only",
        settings={"reactions": "all", "allowed_reactions": [], "visibility": "invite"},
    )
    private_post = await admin.publish(private, type="text", text="Rota for next week")
    suspended = await admin.channel("Miracle cures")
    suspended_post = await admin.publish(suspended, type="text", text="Buy now")
    response = await admin.http.put(
        f"{publisher.base_url}/v1/operator/channels/{suspended.channel_id}/suspension",
        json={"reason": "scam"},
        headers=operator_auth("operator-1"),
    )
    assert response.status_code in (200, 204), response.text

    for channel, post, text in (
        (private, private_post, "Rota for next week"),
        (suspended, suspended_post, "Buy now"),
    ):
        for path in (
            f"/c/{channel.channel_id}",
            f"/c/{channel.handle}",
            f"/c/{channel.channel_id}/{post.seq}",
        ):
            page = await visitor.get(path)
            assert page.status_code == 404, path
            assert channel.name not in page.text
            assert text not in page.text


async def test_a_photo_post_shows_a_thumbnail_and_serves_the_photo(
    visitor: httpx.AsyncClient, admin: Admin
) -> None:
    channel = await admin.channel("County photo desk")
    source = io.BytesIO()
    Image.new("RGB", (1600, 1000), (30, 120, 200)).save(source, "JPEG")
    photo = source.getvalue()
    uploaded = await admin.http.post(
        f"/v1/channels/{channel.channel_id}/media", files={"file": ("wing.jpg", photo)}
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    media_id = uploaded.json()["media_id"]
    post = await admin.publish(channel, type="photo", media_id=media_id, caption="New wing")

    page = await visitor.get(f"/c/{channel.channel_id}/{post.seq}")
    assert f'src="/media/{media_id}/thumb"' in page.text
    assert meta(page.text, "twitter:card") == "summary_large_image"

    thumb = await visitor.get(f"/media/{media_id}/thumb")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert max(image.size) <= 480 and image.size[0] > image.size[1]

    full = await visitor.get(f"/media/{media_id}")
    assert full.status_code == 200
    assert full.headers["content-type"] == "image/jpeg"
    assert full.content == photo
    part = await visitor.get(f"/media/{media_id}", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == photo[:100]
