"""Crypto-shredding end to end: real publisher, fan-out, feed, Kafka and Postgres.

Each test runs its own publisher and fan-out in a fresh topic namespace, so it reads the
raw posts topic (a plain consumer from offset 0) and the DLQ of its own pipeline only.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.content.keys import load_key
from shared.events.posts import POST_EVENTS, PostEditedSealed, PostPublishedSealed
from shared.topics import DLQ, POSTS
from tests.integration.fanout.helpers import wait_for
from tests.integration.publisher.conftest import Channel, create_channel
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

ORIGINAL = "Clinic 7 opens at nine (canary-original-4be1)"
EDITED = "Clinic 7 opens at ten (canary-edited-4be1)"


def namespace(stack: StackSlice) -> str:
    return f"{stack.namespace}-k{uuid.uuid4().hex[:6]}"


async def raw_records(stack: StackSlice, topic: str, partitions: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of every record of the topic, from offset 0 of every partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[bytes, bytes]] = []
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                out.extend((r.key or b"", r.value or b"") for r in records)
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def channel_values(stack: StackSlice, ns: str, channel_id: str) -> list[bytes]:
    records = await raw_records(stack, f"{ns}.{POSTS.name}", POSTS.partitions)
    return [value for key, value in records if key == channel_id.encode()]


async def opens(stack: StackSlice, db: asyncpg.Pool, value: bytes) -> Any:
    """The content of a raw sealed record, or None when its key is gone."""
    event = POST_EVENTS.decode(value)
    assert isinstance(event, PostPublishedSealed | PostEditedSealed)
    p = event.payload
    async with db.acquire() as conn:
        key = await load_key(
            conn, p.key_id, p.key_expires_on, stack.settings().content_master_keys()
        )
    if key is None:
        return None
    return p.open(key)


async def post_row(db: asyncpg.Pool, post_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await db.fetchrow(
        "SELECT seq, status, body, key_id, key_expires_on FROM posts WHERE post_id = $1",
        UUID(post_id),
    )
    return row


async def keys_of(db: asyncpg.Pool, post_id: str) -> set[UUID]:
    rows = await db.fetch("SELECT key_id FROM content_keys WHERE post_id = $1", UUID(post_id))
    return {r["key_id"] for r in rows}


async def metric(fanout: ServiceProcess, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{fanout.base_url}/metrics")).text
    for line in text.splitlines():
        if line.startswith(f'{name}{{topic="{POSTS.name}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def publish(http: httpx.AsyncClient, channel: Channel, text: str) -> str:
    response = await http.post(
        channel.url("/posts"), json={"type": "text", "text": text}, headers=auth(channel.owner)
    )
    assert response.status_code == 202, response.text
    post_id: str = response.json()["post_id"]
    return post_id


async def edit(http: httpx.AsyncClient, channel: Channel, post_id: str, text: str) -> None:
    response = await http.patch(
        channel.url(f"/posts/{post_id}"), json={"text": text}, headers=auth(channel.owner)
    )
    assert response.status_code in (200, 202, 204), response.text


async def test_bodies_are_sealed_and_deleting_or_editing_destroys_their_keys(
    stack: StackSlice,
    db: asyncpg.Pool,
    feed: ServiceProcess,
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    ns = namespace(stack)
    publisher = await spawn_service("publisher", HERALD_NAMESPACE=ns).start()
    fanout = await spawn_service("fanout", HERALD_NAMESPACE=ns).start()
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as http:
        channel = await create_channel(http)
        post_id = await publish(http, channel, ORIGINAL)

        # The post is persisted and readable through the feed...
        row = await wait_for(lambda: post_row(db, post_id), lambda r: r is not None)
        assert row is not None and row["body"]["text"] == ORIGINAL
        async with httpx.AsyncClient(base_url=feed.base_url) as reader:
            page = (await reader.get(f"/v1/channels/{channel.channel_id}/posts")).json()
        assert [item["body"]["text"] for item in page["items"]] == [ORIGINAL]

        # ...while the log holds it sealed, with the key's id only.
        (published_raw,) = await channel_values(stack, ns, channel.channel_id)
        assert b"canary-original" not in published_raw
        assert base64.b64encode(ORIGINAL.encode())[:12] not in published_raw
        sealed = orjson.loads(published_raw)
        assert sealed["version"] == 2 and "body" not in sealed["payload"]
        assert UUID(sealed["payload"]["key_id"]) == row["key_id"]
        assert (await opens(stack, db, published_raw)).text == ORIGINAL

        # An edit: the new body is served, the original's key is destroyed.
        await edit(http, channel, post_id, EDITED)
        row = await wait_for(
            lambda: post_row(db, post_id), lambda r: r is not None and r["body"]["text"] == EDITED
        )
        assert row is not None
        async with httpx.AsyncClient(base_url=feed.base_url) as reader:
            page = (await reader.get(f"/v1/channels/{channel.channel_id}/posts")).json()
        assert [item["body"]["text"] for item in page["items"]] == [EDITED]
        values = await channel_values(stack, ns, channel.channel_id)
        assert len(values) == 2 and all(b"canary" not in v for v in values)
        edit_raw = values[1]
        assert await opens(stack, db, published_raw) is None
        assert (await opens(stack, db, edit_raw)).text == EDITED
        assert await keys_of(db, post_id) == {row["key_id"]}

        # A delete: every key of the post is gone, no record of it decrypts any more.
        deleted = await http.delete(channel.url(f"/posts/{post_id}"), headers=auth(channel.owner))
        assert deleted.status_code in (200, 202, 204), deleted.text
        await wait_for(
            lambda: post_row(db, post_id), lambda r: r is not None and r["status"] == "deleted"
        )
        assert await keys_of(db, post_id) == set()
        for value in (published_raw, edit_raw):
            assert await opens(stack, db, value) is None
        # The edit record met again (its key destroyed by the delete) is skipped and
        # counted, not sent to the DLQ; the channel's next post still goes through.
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{ns}.{POSTS.name}", edit_raw, key=channel.channel_id.encode()
            )
        finally:
            await producer.stop()
        after = await publish(http, channel, "after the replay")
        await wait_for(lambda: post_row(db, after), lambda r: r is not None)
        assert await metric(fanout, "herald_fanout_records_unreadable_total") == 1.0
        dead = await raw_records(stack, f"{ns}.{DLQ.name}", DLQ.partitions)
        assert dead == []


async def test_fanout_killed_between_a_post_and_its_edit_applies_both(
    stack: StackSlice, db: asyncpg.Pool, spawn_service: Callable[..., ServiceProcess]
) -> None:
    ns = namespace(stack)
    publisher = await spawn_service("publisher", HERALD_NAMESPACE=ns).start()
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as http:
        channel = await create_channel(http)
        # Fan-out is down: the post, others after it, then its edit, all in the log.
        post_id = await publish(http, channel, ORIGINAL)
        others = [await publish(http, channel, f"filler {i}") for i in range(20)]
        await edit(http, channel, post_id, EDITED)
        original_key, edit_key = [
            UUID(orjson.loads(v)["payload"]["key_id"])
            for v in await channel_values(stack, ns, channel.channel_id)
            if orjson.loads(v)["payload"]["post_id"] == post_id
        ]
        assert await keys_of(db, post_id) == {original_key, edit_key}

        # One record per batch, SIGKILLed once the post is in: somewhere before its edit.
        first = await spawn_service(
            "fanout", HERALD_NAMESPACE=ns, HERALD_FANOUT_BATCH_MAX_RECORDS="1"
        ).start()
        await wait_for(lambda: post_row(db, post_id), lambda r: r is not None)
        first.kill()
        again = await spawn_service("fanout", HERALD_NAMESPACE=ns).start()

        row = await wait_for(
            lambda: post_row(db, post_id),
            lambda r: r is not None and r["body"]["text"] == EDITED,
            what="the edit applied after the restart",
        )
        assert row is not None and row["seq"] == 1 and row["key_id"] == edit_key
        seqs = await db.fetch(
            "SELECT post_id, seq FROM posts WHERE channel_id = $1 ORDER BY seq",
            UUID(channel.channel_id),
        )
        assert [str(r["post_id"]) for r in seqs] == [post_id, *others]
        assert [r["seq"] for r in seqs] == list(range(1, 22))
        # Nothing skipped; the original's key went only when the edit was applied.
        assert await metric(again, "herald_fanout_records_unreadable_total") == 0.0
        assert await keys_of(db, post_id) == {edit_key}


async def test_a_key_for_a_day_without_a_partition_creates_it(
    stack: StackSlice, db: asyncpg.Pool
) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.content.keys import new_content_key, store_key

    masters = stack.settings().content_master_keys()
    key = new_content_key()
    far = datetime.now(UTC).date() + timedelta(days=90)
    async with db.acquire() as conn:
        await store_key(conn, masters, key, far, uuid.uuid4(), uuid.uuid4())
        assert await load_key(conn, key.key_id, far, masters) == key.key
    partition = f"content_keys_{far:%Y%m%d}"
    assert await db.fetchval("SELECT to_regclass($1) IS NOT NULL", partition)
