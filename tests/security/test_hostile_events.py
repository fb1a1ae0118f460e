"""Hostile records injected straight into the topics of the session's running services.

- herald.posts.v1: not JSON, empty, a tombstone (no value), an unknown version, a huge
  record just under the 256 KiB event limit (invalid), one over it, one keyed by
  something other than its channel id — each lands in herald.dlq.v1, and the posts
  after them are persisted in order.
- herald.interactions.v1: the same garbage lands in the DLQ and later reactions are
  still counted. A valid event under a wrong key is counted, not dead-lettered: events
  there only say "(post, account) changed", the count is read from the feed's rows, so
  order and partition do not matter (dropping it would lose a real reaction).
- herald.live.v1: the feed counts poison and skips it (every feed process reads the whole
  topic, so a DLQ copy per process would only be noise) and keeps serving SSE.
- over 1 MB: the broker itself refuses the record (message.max.bytes), so no consumer
  ever sees it.

(tests/integration/fanout/test_resilience.py covers bad JSON / unknown version / unknown
channel on the posts topic of a dedicated fan-out; this extends it.)
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.structs import TopicPartition

from shared.events.envelope import MAX_EVENT_BYTES
from shared.events.interactions import ReactionChanged, ReactionChangedV1
from shared.topics import DLQ, INTERACTIONS, LIVE, POSTS
from tests.integration.fanout.helpers import make_channel, published, send, wait_for
from tests.integration.feed.builder import eventually
from tests.integration.feed.sse import SseReader, is_post
from tests.security.world import build_world, expect, publish
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


@pytest.fixture
async def producer(stack: StackSlice) -> AsyncIterator[AIOKafkaProducer]:
    # Room for records over 1 MB, so the broker (not this client) is what refuses them.
    p = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap, max_request_size=4 * 1024 * 1024, linger_ms=2
    )
    await p.start()
    yield p
    await p.stop()


def _mutated(event_json: bytes, **changes: Any) -> bytes:
    data = orjson.loads(event_json)
    data.update(changes)
    return orjson.dumps(data)


def _padded_text(event_json: bytes, size: int) -> bytes:
    """The event with a `text` that makes it `size` bytes long (invalid past 4096 chars)."""
    data = orjson.loads(event_json)
    data["payload"]["body"]["text"] = ""
    base = len(orjson.dumps(data))
    data["payload"]["body"]["text"] = "x" * (size - base)
    raw = orjson.dumps(data)
    assert len(raw) == size
    return raw


def garbage(valid: bytes) -> list[bytes | None]:
    return [
        b"{not json",
        b"",
        None,
        b"[1, 2, 3]",
        _mutated(valid, version=99),
        _mutated(valid, payload={"channel_id": "not-a-uuid"}),
    ]


async def dead_letters(stack: StackSlice, keys: set[bytes], expected: int) -> list[dict[str, Any]]:
    """Letters on the session's DLQ whose key is one of `keys` (waits for `expected`)."""
    consumer = AIOKafkaConsumer(
        stack.topic(DLQ.name),
        bootstrap_servers=stack.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    letters: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 45
        while len(letters) < expected and loop.time() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                letters += [orjson.loads(m.value) for m in messages if m.key in keys]
        return letters
    finally:
        await consumer.stop()


async def _texts(db: asyncpg.Pool, channel_id: UUID) -> list[tuple[int, str]]:
    rows = await db.fetch(
        "SELECT seq, body->>'text' AS text FROM posts WHERE channel_id = $1 ORDER BY seq",
        channel_id,
    )
    return [(r["seq"], r["text"]) for r in rows]


async def test_hostile_posts_are_dead_lettered_and_the_log_keeps_moving(
    db: asyncpg.Pool, stack: StackSlice, fanout: ServiceProcess, producer: AIOKafkaProducer
) -> None:
    topic = stack.topic(POSTS.name)
    channel_id = await make_channel(db, followers=2)
    valid = published(channel_id, "template").encode()
    near_limit = _padded_text(valid, MAX_EVENT_BYTES - 100)
    over_limit = _padded_text(valid, MAX_EVENT_BYTES + 100)
    hostile = [*garbage(valid), near_limit, over_limit]
    key = str(channel_id).encode()
    await send(producer, topic, channel_id, published(channel_id, "good 1"))
    for value in hostile:
        await producer.send_and_wait(topic, value, key=key)
    wrong_key = str(uuid.uuid4()).encode()
    await producer.send_and_wait(topic, published(channel_id, "wrong key").encode(), key=wrong_key)
    await send(producer, topic, channel_id, published(channel_id, "good 2"))

    texts = await wait_for(lambda: _texts(db, channel_id), lambda t: len(t) >= 2, what="good posts")
    letters = await dead_letters(stack, {key, wrong_key}, len(hostile) + 1)
    assert len(letters) == len(hostile) + 1, [x["payload"]["error"] for x in letters]
    assert await _texts(db, channel_id) == [(1, "good 1"), (2, "good 2")] == texts
    by_offset = sorted(letters, key=lambda x: x["payload"]["offset"])
    assert all(x["payload"]["source_topic"] == topic for x in letters)
    big = next(x for x in by_offset if x["payload"]["original_bytes"] > MAX_EVENT_BYTES)
    assert big["payload"]["truncated"] is True
    assert len(base64.b64decode(big["payload"]["original_value_b64"])) < MAX_EVENT_BYTES
    assert any("key" in x["payload"]["error"] for x in letters)


async def _keys_from(
    stack: StackSlice, topic: str, start: dict[TopicPartition, int]
) -> list[bytes]:
    """The keys of every record on `topic` from the `start` offsets to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        ends = await consumer.end_offsets(list(start))
        keys: list[bytes] = []
        for tp, offset in start.items():
            consumer.seek(tp, offset)
            # position(), not the last record's offset + 1: it also steps over control records.
            while await consumer.position(tp) < ends[tp]:
                records = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
                keys += [record.key or b"" for record in records]
        return keys
    finally:
        await consumer.stop()


async def test_over_a_megabyte_is_refused_by_the_broker(
    stack: StackSlice, producer: AIOKafkaProducer
) -> None:
    topic = stack.topic(POSTS.name)
    partitions = [TopicPartition(topic, p) for p in range(POSTS.partitions)]
    probe = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        before: dict[TopicPartition, int] = await probe.end_offsets(partitions)
    finally:
        await probe.stop()
    huge = b"{" + b" " * (1536 * 1024) + b"}"
    # The client's own limit (max_request_size, 4 MiB) is above the record, so this error
    # is the broker's answer (message.max.bytes), not a client-side refusal.
    with pytest.raises(MessageSizeTooLargeError):
        await producer.send_and_wait(topic, huge, key=b"huge")
    assert b"huge" not in await _keys_from(stack, topic, before)


async def test_hostile_interactions_are_dead_lettered_and_counting_goes_on(
    db: asyncpg.Pool,
    stack: StackSlice,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
    producer: AIOKafkaProducer,
) -> None:
    topic = stack.topic(INTERACTIONS.name)
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        world = await build_world(pub, fd, tag="evt")
        post_id = UUID(world.photo_post_id)
        channel_id = UUID(world.channel_id)
        valid = ReactionChanged(
            payload=ReactionChangedV1(channel_id=channel_id, post_id=post_id, account_id="x")
        ).encode()
        big = _mutated(valid, padding="p" * (MAX_EVENT_BYTES + 10))
        missing_account = _mutated(
            valid, payload={"channel_id": str(channel_id), "post_id": str(post_id)}
        )
        hostile = [*garbage(valid), big, missing_account]
        key = str(post_id).encode()
        for value in hostile:
            await producer.send_and_wait(topic, value, key=key)

        # A reaction whose event comes under a wrong key: still counted.
        stray = "stray-reactor"
        await db.execute(
            "INSERT INTO reactions (post_id, account_id, channel_id, emoji)"
            " VALUES ($1, $2, $3, '👍')",
            post_id,
            stray,
            channel_id,
        )
        stray_event = ReactionChanged(
            payload=ReactionChangedV1(channel_id=channel_id, post_id=post_id, account_id=stray)
        )
        await producer.send_and_wait(topic, stray_event.encode(), key=b"wrong-key")
        # After the garbage, on the same partition: a real reaction through the feed.
        reacted = await fd.put(
            f"/v1/posts/{post_id}/reaction", json={"emoji": "❤️"}, headers=auth("after-poison")
        )
        expect(reacted, 200)

        async def counted() -> dict[str, int] | None:
            page = (await fd.get(f"/v1/channels/{channel_id}/posts")).json()["items"]
            counters = next(p for p in page if p["post_id"] == str(post_id))["counters"]
            reactions: dict[str, int] = counters["reactions"]
            return reactions if sum(reactions.values()) == 2 else None

        assert await eventually(counted, what="reactions counted") == {"👍": 1, "❤️": 1}
    letters = await dead_letters(stack, {key}, len(hostile))
    assert len(letters) == len(hostile)
    # The dead letters carry no account id in their error text (only the bytes they hold).
    assert all("after-poison" not in x["payload"]["error"] for x in letters)


async def test_live_poison_is_skipped_and_sse_keeps_serving(
    stack: StackSlice,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
    producer: AIOKafkaProducer,
) -> None:
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        world = await build_world(pub, fd, tag="live")
        reader = auth(f"live-reader-{uuid.uuid4().hex[:8]}")
        expect(await fd.put(f"/v1/channels/{world.channel_id}/follow", headers=reader), 200)
        before = await _live_poison_count(feed)
        async with SseReader(fd, reader) as stream:
            key = world.channel_id.encode()
            valid = orjson.dumps({"type": "live.post_visible", "version": 1, "payload": {}})
            hostile = [*garbage(valid), b"{" + b" " * (MAX_EVENT_BYTES + 1) + b"}"]
            for value in hostile:
                await producer.send_and_wait(stack.topic(LIVE.name), value, key=key)
            post_id = await publish(
                pub, world.channel_id, world.owner, {"type": "text", "text": "after"}
            )
            seen = await stream.next(lambda e: is_post(e) and e.data["post_id"] == post_id)
            assert seen.data["body"]["text"] == "after"

        async def skipped() -> float | None:
            now = await _live_poison_count(feed)
            return now if now >= before + len(hostile) else None

        await eventually(skipped, what="live poison counted")


async def _live_poison_count(feed: ServiceProcess) -> float:
    async with httpx.AsyncClient(timeout=20) as http:
        text = (await http.get(f"{feed.ops_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith('herald_feed_live_events_total{outcome="poison"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
