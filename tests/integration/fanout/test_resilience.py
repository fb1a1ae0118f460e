"""Failures the posts path must survive: poison messages, a SIGKILL in the middle of a
large fan-out, Postgres unreachable for a while. Nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from uuid import UUID

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.topics import DLQ, POSTS
from tests.integration.fanout.conftest import Fanout
from tests.integration.fanout.helpers import (
    channel_deleted,
    make_channel,
    published,
    send,
    wait_for,
)
from tests.support.faults import postgres_proxy
from tests.support.stack import StackSlice


async def _seqs(db: asyncpg.Pool, channel_id: UUID) -> list[int]:
    rows = await db.fetch("SELECT seq FROM posts WHERE channel_id = $1 ORDER BY seq", channel_id)
    return [r["seq"] for r in rows]


async def _feed_counts(db: asyncpg.Pool, channel_id: UUID) -> tuple[int, int]:
    row = await db.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT (account_id, post_id)) AS d"
        " FROM feed_items WHERE channel_id = $1",
        channel_id,
    )
    return row["n"], row["d"]


async def _dead_letters(stack: StackSlice, fanout: Fanout, expected: int) -> list[dict]:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(
        fanout.topic(DLQ.name),
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    letters: list[dict] = []  # type: ignore[type-arg]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(letters) < expected and loop.time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                letters.extend(orjson.loads(m.value) for m in messages)
        return letters
    finally:
        await consumer.stop()


async def test_poison_goes_to_the_dlq_and_the_partition_keeps_moving(
    db: asyncpg.Pool,
    stack: StackSlice,
    make_fanout: Callable[..., Fanout],
    producer: AIOKafkaProducer,
) -> None:
    fanout = make_fanout()
    await fanout.process.start()
    topic = fanout.topic(POSTS.name)
    channel_id = await make_channel(db, followers=2)
    gone = await make_channel(db, followers=2)
    before, after = published(channel_id, "before"), published(channel_id, "after")
    future = orjson.loads(published(channel_id).encode())
    future["version"] = 99
    unknown_channel = published(UUID(int=7))
    await send(
        producer,
        topic,
        channel_id,
        before,
        b"{not json",
        orjson.dumps(future),
        unknown_channel,
        after,
    )
    # The publisher marks the channel deleted, then says so; what follows is refused.
    await db.execute("UPDATE channels SET status = 'deleted' WHERE channel_id = $1", gone)
    await send(producer, topic, gone, channel_deleted(gone), published(gone))

    assert await wait_for(lambda: _seqs(db, channel_id), lambda s: s == [1, 2]) == [1, 2]
    letters = await _dead_letters(stack, fanout, 4)
    errors = sorted(letter["payload"]["error"].split(":")[0].split(" ")[0] for letter in letters)
    assert errors == ["channel", "not", "unknown", "unknown"], letters
    assert all(letter["payload"]["source_topic"] == topic for letter in letters)
    originals = {base64.b64decode(letter["payload"]["original_value_b64"]) for letter in letters}
    assert b"{not json" in originals
    assert await _seqs(db, gone) == []
    metrics = await _metrics(fanout)
    assert 'herald_dlq_messages_total{service="fanout",topic="herald.posts.v1"} 4.0' in metrics


async def _metrics(fanout: Fanout) -> str:
    import httpx

    async with httpx.AsyncClient() as client:
        return (await client.get(f"{fanout.process.base_url}/metrics")).text


async def test_sigkill_mid_fanout_then_restart_delivers_each_post_once(
    db: asyncpg.Pool, make_fanout: Callable[..., Fanout], producer: AIOKafkaProducer
) -> None:
    fanout = make_fanout(HERALD_FANOUT_BATCH_MAX_RECORDS="4")
    await fanout.process.start()
    channel_id = await make_channel(db, followers=5000)
    posts = [published(channel_id, f"post {i}") for i in range(40)]
    await send(producer, fanout.topic(POSTS.name), channel_id, *posts)
    await wait_for(lambda: _seqs(db, channel_id), lambda s: len(s) >= 4, what="some posts")
    fanout.process.kill()
    persisted_at_kill = len(await _seqs(db, channel_id))

    again = make_fanout(fanout.namespace, HERALD_FANOUT_BATCH_MAX_RECORDS="4")
    await again.process.start()
    seqs = await wait_for(lambda: _seqs(db, channel_id), lambda s: len(s) == 40, what="all")
    assert seqs == list(range(1, 41)), f"killed with {persisted_at_kill} persisted"
    assert await _feed_counts(db, channel_id) == (40 * 5000, 40 * 5000)
    ids = await db.fetch("SELECT post_id FROM posts WHERE channel_id = $1 ORDER BY seq", channel_id)
    assert [r["post_id"] for r in ids] == [p.payload.post_id for p in posts]


async def test_postgres_outage_is_waited_out_and_loses_nothing(
    db: asyncpg.Pool,
    stack: StackSlice,
    make_fanout: Callable[..., Fanout],
    producer: AIOKafkaProducer,
) -> None:
    proxy, via_proxy = await postgres_proxy(stack.database_url)
    fanout = make_fanout(HERALD_DATABASE_URL=via_proxy)
    await fanout.process.start()
    topic = fanout.topic(POSTS.name)
    channel_id = await make_channel(db, followers=10)
    await send(producer, topic, channel_id, published(channel_id, "before"))
    await wait_for(lambda: _seqs(db, channel_id), lambda s: s == [1])

    await proxy.cut()
    during = [published(channel_id, f"during {i}") for i in range(5)]
    await send(producer, topic, channel_id, *during)

    async def log_text() -> str:
        return fanout.process.log_text()

    await wait_for(log_text, lambda text: "batch failed, retrying" in text, what="retries")
    assert await _seqs(db, channel_id) == [1]
    await proxy.restore()

    seqs = await wait_for(lambda: _seqs(db, channel_id), lambda s: len(s) == 6, what="recovery")
    assert seqs == list(range(1, 7))
    assert await _feed_counts(db, channel_id) == (60, 60)
    await proxy.cut()
