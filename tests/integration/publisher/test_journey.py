"""An admin's whole journey over HTTP: create a channel, upload real media, publish every
post type, edit, delete, follow each post's status, read insights, delete the channel.
The publisher here writes to a namespace no fan-out consumes: the events are read from
its posts topic, and fan-out's rows are written directly where a status or a count
depends on them, so every seq and count below is the test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta

import asyncpg
import httpx
import pytest

from shared.events.posts import (
    ChannelDeleted,
    PostDeleted,
    PostEdited,
    PostPublished,
    PostPublishedSealed,
)
from shared.topics import POSTS
from tests.integration.publisher.conftest import (
    MP4_BYTES,
    OGG_OPUS_BYTES,
    Channel,
    PostsTopic,
    account,
    channel_body,
    image_bytes,
    upload,
)
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

# Topics of this namespace are created by the publisher at start; nothing consumes them.
UNCONSUMED = "-journey"


@pytest.fixture
async def lone(stack: StackSlice, spawn_service: Callable[..., ServiceProcess]) -> ServiceProcess:
    process = spawn_service("publisher", HERALD_NAMESPACE=stack.namespace + UNCONSUMED)
    return await process.start()


@pytest.fixture
async def client(lone: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lone.base_url, timeout=20) as http:
        yield http


@pytest.fixture
def posts_topic(stack: StackSlice) -> PostsTopic:
    return PostsTopic(stack, f"{stack.namespace}{UNCONSUMED}.{POSTS.name}")


async def _fan_out_row(db: asyncpg.Pool, channel_id: str, event: PostPublished, seq: int) -> None:
    """What fan-out would persist for `event` (so status and insights can see it)."""
    p = event.payload
    await db.execute(
        "SELECT herald_ensure_day_partitions('posts', $1::date, $1::date)", p.created_at.date()
    )
    await db.execute(
        """
        INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $3::timestamptz + interval '30 days')
        """,
        uuid.UUID(channel_id),
        p.post_id,
        p.created_at,
        seq,
        p.author_id,
        p.body.model_dump(mode="json"),
    )


async def test_admin_journey(
    client: httpx.AsyncClient, lone: ServiceProcess, posts_topic: PostsTopic, db: asyncpg.Pool
) -> None:
    owner = account("owner")
    body = channel_body(handle=f"Health_{uuid.uuid4().hex[:8]}")
    created = await client.post("/v1/channels", json=body, headers=auth(owner))
    assert created.status_code == 201, created.text
    view = created.json()
    assert view["handle"] == body["handle"].lower()
    assert view["country"] == "KE"
    assert view["your_role"] == "owner"
    assert view["settings"]["retention_days"] == 30
    assert [a["role"] for a in view["admins"]] == ["owner"]
    channel = Channel(view["channel_id"], owner)

    # The same handle in another case is the same handle.
    clash = channel_body(handle=body["handle"].upper())
    assert (await client.post("/v1/channels", json=clash, headers=auth(owner))).status_code == 409

    # An admin edits the profile; the owner changes the settings.
    admin = account("admin")
    assert (
        await client.put(channel.url(f"/admins/{admin}"), headers=auth(owner))
    ).status_code == 201
    edited = await client.patch(channel.url(), json={"name": "Health KE"}, headers=auth(admin))
    assert edited.status_code == 200 and edited.json()["name"] == "Health KE"
    settings = {"reactions": "all", "forwarding": False, "retention_days": 7}
    changed = await client.patch(channel.url(), json={"settings": settings}, headers=auth(owner))
    assert changed.status_code == 200, changed.text
    assert changed.json()["retention_days"] == 7
    assert (
        await db.fetchval(
            "SELECT retention_days FROM channels WHERE channel_id = $1",
            uuid.UUID(channel.channel_id),
        )
        == 7
    )

    # Real media: the type comes from the bytes.
    png = await upload(client, channel, image_bytes("PNG"), "photo.png", who=admin)
    assert png.status_code == 201, png.text
    photo = png.json()
    assert (photo["kind"], photo["mime"], photo["width"], photo["height"]) == (
        "photo",
        "image/png",
        40,
        30,
    )
    jpeg = await upload(client, channel, image_bytes("JPEG"), "x.bin")
    assert jpeg.json()["mime"] == "image/jpeg"
    sticker = await upload(client, channel, image_bytes("WEBP", (64, 64)), "s.webp", kind="sticker")
    assert sticker.status_code == 201 and sticker.json()["kind"] == "sticker"
    video = await upload(client, channel, MP4_BYTES, "clip.mp4")
    assert video.status_code == 201 and video.json()["mime"] == "video/mp4"
    voice = await upload(client, channel, OGG_OPUS_BYTES, "note.ogg")
    assert voice.status_code == 201 and voice.json()["kind"] == "voice"
    avatar = await client.patch(
        channel.url(), json={"avatar_media_id": jpeg.json()["media_id"]}, headers=auth(admin)
    )
    assert avatar.status_code == 200 and avatar.json()["avatar_media_id"] == jpeg.json()["media_id"]

    posts = {
        "text": {"type": "text", "text": "Clinics open on Saturday"},
        "photo": {"type": "photo", "media_id": photo["media_id"], "caption": "Queue"},
        "video": {"type": "video", "media_id": video.json()["media_id"]},
        "sticker": {"type": "sticker", "media_id": sticker.json()["media_id"]},
        "voice": {"type": "voice", "media_id": voice.json()["media_id"]},
        "poll": {
            "type": "poll",
            "poll": {"question": "Vaccinated?", "options": ["yes", "no", "soon"]},
        },
    }
    post_ids: dict[str, str] = {}
    for kind, post in posts.items():
        response = await client.post(channel.url("/posts"), json=post, headers=auth(admin))
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "accepted"
        post_ids[kind] = response.json()["post_id"]

    events = await posts_topic.opened_events(channel.channel_id)
    # Sealed on the topic (crypto-shredding), opened here with their keys as fan-out would.
    assert [
        str(e.payload.post_id)
        for e in await posts_topic.events(channel.channel_id)
        if isinstance(e, PostPublishedSealed)
    ] == list(post_ids.values())
    published = [e for e in events if isinstance(e, PostPublished)]
    assert [str(e.payload.post_id) for e in published] == list(post_ids.values())
    by_type = {e.payload.body.type.value: e for e in published}
    assert by_type["text"].payload.body.text == "Clinics open on Saturday"
    assert by_type["photo"].payload.body.media is not None
    assert by_type["photo"].payload.body.media.width == 40
    assert by_type["poll"].payload.body.poll is not None
    assert by_type["poll"].payload.body.poll.options == ["yes", "no", "soon"]
    assert all(e.payload.author_id == admin for e in published)
    # The media a post uses now lives as long as the post.
    used = await db.fetchval(
        "SELECT first_used_at IS NOT NULL FROM media WHERE media_id = $1",
        uuid.UUID(photo["media_id"]),
    )
    assert used

    status = await client.get(channel.url(f"/posts/{post_ids['text']}"), headers=auth(owner))
    assert status.status_code == 200 and status.json()["status"] == "accepted"

    edit = await client.patch(
        channel.url(f"/posts/{post_ids['text']}"),
        json={"text": "Clinics open Sunday"},
        headers=auth(admin),
    )
    assert edit.status_code == 202, edit.text
    caption = await client.patch(
        channel.url(f"/posts/{post_ids['photo']}"),
        json={"caption": "Short queue"},
        headers=auth(admin),
    )
    assert caption.status_code == 202
    poll_edit = await client.patch(
        channel.url(f"/posts/{post_ids['poll']}"), json={"text": "x"}, headers=auth(admin)
    )
    assert poll_edit.status_code == 409
    delete = await client.delete(channel.url(f"/posts/{post_ids['video']}"), headers=auth(admin))
    assert delete.status_code == 202
    deleted = await client.get(channel.url(f"/posts/{post_ids['video']}"), headers=auth(admin))
    assert deleted.json()["status"] == "deleted"
    assert (
        await client.patch(
            channel.url(f"/posts/{post_ids['video']}"), json={"caption": "x"}, headers=auth(admin)
        )
    ).status_code == 409
    unknown = await client.get(channel.url(f"/posts/{uuid.uuid4()}"), headers=auth(admin))
    assert unknown.status_code == 404

    events = await posts_topic.opened_events(channel.channel_id)
    edits = [e for e in events if isinstance(e, PostEdited)]
    assert [(str(e.payload.post_id), e.payload.text, e.payload.caption) for e in edits] == [
        (post_ids["text"], "Clinics open Sunday", None),
        (post_ids["photo"], None, "Short queue"),
    ]
    assert [str(e.payload.post_id) for e in events if isinstance(e, PostDeleted)] == [
        post_ids["video"]
    ]

    # Fan-out persists the text and poll posts and counts followers, views, reactions, votes.
    await _fan_out_row(db, channel.channel_id, by_type["text"], 1)
    await _fan_out_row(db, channel.channel_id, by_type["poll"], 2)
    cid = uuid.UUID(channel.channel_id)
    poll_id = by_type["poll"].payload.post_id
    text_id = by_type["text"].payload.post_id
    await db.execute("INSERT INTO channel_stats (channel_id, followers) VALUES ($1, 42)", cid)
    await db.executemany(
        "INSERT INTO channel_follower_days (channel_id, day, delta) VALUES ($1, $2, $3)",
        [
            (cid, date.today(), 5),
            (cid, date.today() - timedelta(days=2), -2),
            (cid, date.today() - timedelta(days=20), 100),
        ],
    )
    await db.execute(
        """
        INSERT INTO post_views (post_id, channel_id, sketch)
        SELECT $1, $2, hll_add_agg(hll_hash_text('viewer-' || i)) FROM generate_series(1, 3) i
        """,
        text_id,
        cid,
    )
    await db.executemany(
        "INSERT INTO post_counters (post_id, kind, key, channel_id, count) VALUES ($1,$2,$3,$4,$5)",
        [
            (text_id, "reaction", "👍", cid, 4),
            (poll_id, "vote", "0", cid, 7),
            (poll_id, "vote", "2", cid, 1),
        ],
    )
    published_status = await client.get(channel.url(f"/posts/{text_id}"), headers=auth(admin))
    assert published_status.json()["status"] == "published"
    assert published_status.json()["seq"] == 1

    insights = await client.get(channel.url("/insights"), headers=auth(admin))
    assert insights.status_code == 200, insights.text
    numbers = insights.json()
    assert (numbers["followers"], numbers["followers_change_7d"]) == (42, 3)
    assert [p["seq"] for p in numbers["posts"]] == [2, 1]
    poll_row, text_row = numbers["posts"]
    assert poll_row["poll"] == [7, 0, 1]
    assert (text_row["views"], text_row["reactions"], text_row["poll"]) == (3, {"👍": 4}, None)
    page = await client.get(channel.url("/insights?limit=1"), headers=auth(admin))
    assert page.json()["next_cursor"] == 2
    older = await client.get(channel.url("/insights?limit=1&before=2"), headers=auth(admin))
    assert [p["seq"] for p in older.json()["posts"]] == [1]

    # The owner deletes the channel: fan-out is told, admins see it no more.
    assert (await client.delete(channel.url(), headers=auth(owner))).status_code == 204
    assert (await client.get(channel.url(), headers=auth(owner))).status_code == 404
    events = await posts_topic.opened_events(channel.channel_id)
    assert isinstance(events[-1], ChannelDeleted)
    metrics = (await client.get(f"{lone.ops_url}/metrics")).text
    assert 'herald_publisher_posts_accepted_total{type="poll"}' in metrics
    assert 'herald_publisher_media_uploaded_total{kind="sticker"}' in metrics
    assert channel.channel_id not in metrics and admin not in metrics
    # Its handle is free again.
    again = await client.post("/v1/channels", json=clash, headers=auth(account()))
    assert again.status_code == 201
