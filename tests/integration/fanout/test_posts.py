"""Posts path end to end: real Kafka, real Postgres, a real fan-out process."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.topics import LIVE, POSTS
from tests.integration.fanout.conftest import Fanout
from tests.integration.fanout.helpers import (
    add_followers,
    deleted,
    edited,
    make_channel,
    published,
    send,
    wait_for,
)
from tests.support.stack import StackSlice


async def _posts(db: asyncpg.Pool, channel_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await db.fetch(
        "SELECT post_id, seq, status, body, fanned_out, expires_at - created_at AS ttl"
        " FROM posts WHERE channel_id = $1 ORDER BY seq",
        channel_id,
    )
    return rows


async def _live_events(stack: StackSlice, fanout: Fanout, channel_id: UUID) -> list[dict]:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(
        fanout.topic(LIVE.name),
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found = []
        batches = await consumer.getmany(timeout_ms=3000)
        while batches:
            for messages in batches.values():
                for m in messages:
                    if m.key == str(channel_id).encode():
                        found.append(orjson.loads(m.value))
            batches = await consumer.getmany(timeout_ms=500)
        return found
    finally:
        await consumer.stop()


async def test_post_reaches_every_unmuted_follower_exactly_once(
    db: asyncpg.Pool, stack: StackSlice, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    channel_id = await make_channel(db, followers=5000)
    async with db.acquire() as conn:
        await add_followers(conn, channel_id, 40, muted=40, start=5000)
    first = published(channel_id, "first", request_id="req-first")
    second = published(channel_id, "second")
    # The first post delivered twice (a producer retry, a replay): one post, one seq.
    await send(producer, fanout5k.topic(POSTS.name), channel_id, first, first, second, first)

    posts = await wait_for(
        lambda: _posts(db, channel_id), lambda rows: len(rows) == 2, what="two posts"
    )
    assert [p["seq"] for p in posts] == [1, 2]
    assert [p["post_id"] for p in posts] == [first.payload.post_id, second.payload.post_id]
    assert all(p["fanned_out"] for p in posts)
    assert posts[0]["ttl"].days == 30
    per_post = await db.fetch(
        "SELECT post_id, count(*) AS n, count(DISTINCT account_id) AS d,"
        " count(*) FILTER (WHERE account_id LIKE '%-50__') AS muted"
        " FROM feed_items WHERE channel_id = $1 GROUP BY post_id",
        channel_id,
    )
    assert sorted((r["n"], r["d"], r["muted"]) for r in per_post) == [(5000, 5000, 0)] * 2
    channel = await db.fetchrow("SELECT last_seq FROM channels WHERE channel_id = $1", channel_id)
    assert channel["last_seq"] == 2
    active = await wait_for(
        lambda: db.fetchval("SELECT posts_7d FROM channel_stats WHERE channel_id = $1", channel_id),
        lambda n: n == 2,
        what="posts in the last 7 days",
    )
    assert active == 2

    events = await wait_for(
        lambda: _live_events(stack, fanout5k, channel_id),
        lambda evs: len(evs) >= 2,
        what="live events",
    )
    visible = [e for e in events if e["type"] == "live.post_visible"]
    assert [e["payload"]["seq"] for e in visible] == [1, 2]
    assert visible[0]["request_id"] == "req-first"
    # No content on the live topic (crypto-shredding cannot reach it): readers use Postgres.
    assert visible[0]["version"] == 2 and "body" not in visible[0]["payload"]
    assert b"admin-1" not in orjson.dumps(events)


async def test_large_channel_is_merged_at_read_time(
    db: asyncpg.Pool, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    channel_id = await make_channel(db, followers=5001)
    post = published(channel_id)
    await send(producer, fanout5k.topic(POSTS.name), channel_id, post)
    posts = await wait_for(lambda: _posts(db, channel_id), lambda rows: len(rows) == 1)
    assert posts[0]["fanned_out"] is False
    rows = await db.fetchval("SELECT count(*) FROM feed_items WHERE channel_id = $1", channel_id)
    assert rows == 0


async def test_edit_then_delete_leaves_a_tombstone_with_its_seq(
    db: asyncpg.Pool, stack: StackSlice, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    channel_id = await make_channel(db, followers=3)
    post = published(channel_id, "typo")
    keep = published(channel_id, "stays")
    post_id = post.payload.post_id
    topic = fanout5k.topic(POSTS.name)
    await send(producer, topic, channel_id, post, keep, edited(channel_id, post_id, "fixed"))
    await wait_for(
        lambda: _posts(db, channel_id),
        lambda rows: len(rows) == 2 and rows[0]["body"]["text"] == "fixed",
        what="edit applied",
    )
    await send(producer, topic, channel_id, deleted(channel_id, post_id))
    posts = await wait_for(
        lambda: _posts(db, channel_id),
        lambda rows: rows[0]["status"] == "deleted",
        what="delete applied",
    )
    assert posts[0]["seq"] == 1 and posts[0]["body"] == {"type": "text"}
    assert posts[1]["status"] == "published" and posts[1]["body"]["text"] == "stays"
    events = await wait_for(
        lambda: _live_events(stack, fanout5k, channel_id),
        lambda evs: any(e["type"] == "live.post_deleted" for e in evs),
    )
    kinds = [(e["type"], e["payload"]["seq"]) for e in events]
    assert ("live.post_edited", 1) in kinds and ("live.post_deleted", 1) in kinds


async def test_faust_is_only_the_process_shell_no_faust_group_or_topic(
    db: asyncpg.Pool, stack: StackSlice, fanout5k: Fanout, producer: AIOKafkaProducer
) -> None:
    """The fan-out's Kafka clients are its own batch consumers: faust, the process shell,
    joins no consumer group and declares no topic (its leader-election topic) of its own."""
    channel_id = await make_channel(db, followers=1)
    await send(producer, fanout5k.topic(POSTS.name), channel_id, published(channel_id))
    await wait_for(lambda: _posts(db, channel_id), lambda rows: len(rows) == 1, what="the post")
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        groups = {group[0] for group in await admin.list_consumer_groups()}
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    ns = fanout5k.namespace
    assert f"{ns}.herald-fanout-posts" in groups
    # faust's own group would be named after the app id.
    assert f"{ns}.herald-fanout" not in groups
    assert {t for t in topics if t.startswith(f"{ns}.herald-fanout")} == set()
