"""Provable deletion: once a post is deleted, edited, or its day has expired, nothing in the
Kafka log can be read back — checked on the raw topics, byte by byte.

Real publisher, fan-out and retention (`--once` with `HERALD_RETENTION_NOW` after the
day), real Kafka and Postgres. A plain consumer reads every partition of the posts, live
and dead-letter topics from offset 0 to the end and looks for each post's text in the
record bytes (keys, values, headers, and the original values the DLQ carries in base64).
Then it tries to open each record of the post with every content key Herald still holds:
none opens. A control post that has not expired still opens (so the check can fail), and
so does a dead letter before its day expires. The deletion reports say what went.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from uuid6 import uuid7

from shared.content.keys import (
    ContentKeyError,
    MasterKeys,
    body_aad,
    decrypt_body,
    new_content_key,
    store_key,
)
from shared.events.content import PostBody
from shared.events.posts import PostPublishedSealed, PostPublishedV2, seal_json
from shared.kafka import topic_partitions
from shared.topics import DLQ, LIVE, POSTS
from tests.integration.publisher.conftest import account, channel_body
from tests.support.processes import ROOT, ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

T = TypeVar("T")


@dataclass
class Record:
    topic: str
    key: bytes
    value: bytes
    # Everything a reader of the log could see of the record, DLQ originals decoded.
    raw: bytes

    def event(self) -> dict[str, Any] | None:
        try:
            parsed = orjson.loads(self.value)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None


@pytest.fixture
async def http(publisher: ServiceProcess, fanout: ServiceProcess) -> Any:
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as client:
        yield client


@pytest.fixture
def masters(stack: StackSlice) -> MasterKeys:
    return stack.settings().content_master_keys()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll `probe` until it returns something (bounded: 60 s)."""
    async with asyncio.timeout(60):
        while True:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(0.1)
    raise AssertionError(what)  # unreachable: the timeout raises


async def read_log(stack: StackSlice) -> list[Record]:
    """Every record of the session's posts, live and DLQ topics, every partition, from
    offset 0 to the end offsets of now."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        # Every partition the broker has for each topic (not the declared counts).
        settings = stack.settings()
        partitions = [
            tp
            for t in (POSTS, LIVE, DLQ)
            for tp in await topic_partitions(settings, stack.topic(t.name))
        ]
        assert len({tp.topic for tp in partitions}) == 3
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Record] = []
        async with asyncio.timeout(60):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                    for m in messages:
                        if m.offset >= ends[tp]:
                            continue
                        records.append(_record(tp.topic, m.key or b"", m.value or b"", m))
        return records
    finally:
        await consumer.stop()


def _record(topic: str, key: bytes, value: bytes, message: Any) -> Record:
    raw = key + b"\0" + value + b"".join(k.encode() + (v or b"") for k, v in message.headers)
    try:
        letter = orjson.loads(value)
        original = letter["payload"]["original_value_b64"]
        raw += b"\0" + base64.b64decode(original)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        pass
    return Record(topic, key, value, raw)


def sealed_payloads(records: list[Record], post_id: UUID) -> list[dict[str, Any]]:
    """The sealed (v2) payloads of `post_id`: on the posts topic, and the originals of its
    dead letters."""
    found: list[dict[str, Any]] = []
    for record in records:
        event = record.event()
        if event is None:
            continue
        payload = event.get("payload") or {}
        if "original_value_b64" in payload:
            try:
                event = orjson.loads(base64.b64decode(payload["original_value_b64"]))
            except (orjson.JSONDecodeError, ValueError):
                continue
            payload = event.get("payload") or {}
        if payload.get("post_id") == str(post_id) and "sealed" in payload:
            found.append(payload)
    return found


async def held_keys(db: asyncpg.Pool, masters: MasterKeys) -> list[bytes]:
    """Every content key Herald still holds, unwrapped (rows other tests wrote with no
    real wrap open under no master key: nobody could use them)."""
    keys = []
    for r in await db.fetch("SELECT key_id, master_key_id, wrapped FROM content_keys"):
        try:
            keys.append(masters.unwrap(r["master_key_id"], r["key_id"], bytes(r["wrapped"])))
        except ContentKeyError:
            continue
    return keys


def opens(payload: dict[str, Any], keys: list[bytes]) -> list[Any]:
    """What the sealed payload opens to under any of `keys` (empty: unreadable)."""
    blob = base64.b64decode(payload["sealed"])
    aad = body_aad(UUID(payload["post_id"]))
    opened = []
    for key in keys:
        try:
            opened.append(orjson.loads(decrypt_body(key, blob, aad)))
        except ContentKeyError:
            continue
    return opened


def assert_unreadable(
    records: list[Record], post_id: UUID, texts: list[str], keys: list[bytes], *, at_least: int
) -> None:
    for text in texts:
        needle = text.encode()
        holders = [r.topic for r in records if needle in r.raw]
        assert holders == [], f"plaintext of a gone post on {holders}"
    payloads = sealed_payloads(records, post_id)
    assert len(payloads) >= at_least, "the post's sealed records are on the log"
    for payload in payloads:
        assert opens(payload, keys) == []


async def create_channel(http: httpx.AsyncClient, owner: str, retention_days: int) -> str:
    body = channel_body()
    body["settings"]["retention_days"] = retention_days
    created = await http.post("/v1/channels", json=body, headers=auth(owner))
    assert created.status_code == 201, created.text
    return str(created.json()["channel_id"])


async def publish(http: httpx.AsyncClient, owner: str, channel_id: str, text: str) -> UUID:
    sent = await http.post(
        f"/v1/channels/{channel_id}/posts", json={"type": "text", "text": text}, headers=auth(owner)
    )
    assert sent.status_code == 202, sent.text
    return UUID(sent.json()["post_id"])


async def persisted(db: asyncpg.Pool, post_id: UUID, text: str | None = None) -> None:
    async def probe() -> bool | None:
        row = await db.fetchrow("SELECT body, status FROM posts WHERE post_id = $1", post_id)
        if row is None:
            return None
        body = orjson.loads(row["body"]) if isinstance(row["body"], str) else row["body"]
        if text is not None and body.get("text") != text:
            return None
        return True

    await eventually(probe, f"post {post_id} persisted")


async def report(
    http: httpx.AsyncClient, owner: str, channel_id: str, **params: str
) -> dict[str, Any] | None:
    answer = await http.get(
        f"/v1/channels/{channel_id}/deletion-report", params=params, headers=auth(owner)
    )
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_deleted_and_edited_post_is_unreadable_in_the_log(
    http: httpx.AsyncClient, db: asyncpg.Pool, stack: StackSlice, masters: MasterKeys
) -> None:
    owner = account("owner")
    channel_id = await create_channel(http, owner, retention_days=30)
    marker = uuid.uuid4().hex
    first, edited = f"deleted first {marker}", f"deleted edited {marker}"
    control_text = f"control {marker}"
    post_id = await publish(http, owner, channel_id, first)
    control_id = await publish(http, owner, channel_id, control_text)
    await persisted(db, post_id)
    await persisted(db, control_id)

    change = await http.patch(
        f"/v1/channels/{channel_id}/posts/{post_id}", json={"text": edited}, headers=auth(owner)
    )
    assert change.status_code == 202, change.text
    await persisted(db, post_id, edited)
    gone = await http.delete(f"/v1/channels/{channel_id}/posts/{post_id}", headers=auth(owner))
    assert gone.status_code == 202, gone.text

    async def tombstoned() -> bool | None:
        status = await db.fetchval("SELECT status FROM posts WHERE post_id = $1", post_id)
        return True if status == "deleted" else None

    await eventually(tombstoned, "the delete applied")

    records = await read_log(stack)
    keys = await held_keys(db, masters)
    # The published version and the edit: both on the log, neither readable.
    assert_unreadable(records, post_id, [first, edited], keys, at_least=2)
    assert await db.fetchval("SELECT count(*) FROM content_keys WHERE post_id = $1", post_id) == 0
    # Positive control: the same reader opens a post that is still live.
    assert control_text.encode() not in b"".join(r.raw for r in records)
    [control] = sealed_payloads(records, control_id)
    assert opens(control, keys) == [{"type": "text", "text": control_text}]

    deleted = await eventually(
        lambda: report(http, owner, channel_id, post_id=str(post_id)), "delete recorded"
    )
    assert deleted["keys_destroyed"] == 1  # the edit already destroyed the first version's
    assert deleted["rows_dropped"] == 1
    assert deleted["partitions_dropped"] == 0


async def test_an_expired_day_is_unreadable_in_the_log_and_the_dlq(
    http: httpx.AsyncClient,
    db: asyncpg.Pool,
    stack: StackSlice,
    masters: MasterKeys,
) -> None:
    owner = account("owner")
    daily = await create_channel(http, owner, retention_days=1)
    monthly = await create_channel(http, owner, retention_days=30)
    marker = uuid.uuid4().hex
    text, poison_text, control_text = (
        f"one day {marker}",
        f"poison {marker}",
        f"thirty days {marker}",
    )
    post_id = await publish(http, owner, daily, text)
    control_id = await publish(http, owner, monthly, control_text)
    await persisted(db, post_id)
    await persisted(db, control_id)
    expires_on: date = await db.fetchval(
        "SELECT expires_on FROM content_keys WHERE post_id = $1", post_id
    )

    # A sealed record of the 1-day channel that fan-out dead-letters (keyed by something
    # other than its channel), its key stored as the publisher stores keys.
    poison_id = uuid7()
    content_key = new_content_key()
    await store_key(db, masters, content_key, expires_on, UUID(daily), poison_id)
    poison_body = PostBody.model_validate({"type": "text", "text": poison_text})
    poison = PostPublishedSealed(
        payload=PostPublishedV2(
            channel_id=UUID(daily),
            post_id=poison_id,
            author_id=owner,
            created_at=datetime.now(UTC),
            key_id=content_key.key_id,
            key_expires_on=expires_on,
            sealed=seal_json(content_key.key, poison_id, poison_body),
        )
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            stack.topic(POSTS.name), poison.encode(), key=f"not-a-channel-{marker}".encode()
        )
    finally:
        await producer.stop()

    async def dead_letters() -> list[dict[str, Any]] | None:
        dlq = [r for r in await read_log(stack) if r.topic == stack.topic(DLQ.name)]
        return sealed_payloads(dlq, poison_id) or None

    [letter] = await eventually(dead_letters, "the poison record on the DLQ")
    # Before its day is over the dead letter opens: the check below can see content.
    assert opens(letter, await held_keys(db, masters)) == [{"type": "text", "text": poison_text}]

    # Retention, the day after the post's expiry day.
    after = datetime.combine(expires_on + timedelta(days=1), datetime.min.time(), UTC)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.retention",
        "--once",
        env=stack.env(HERALD_RETENTION_NOW=(after + timedelta(minutes=1)).isoformat()),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert f"content_keys_{expires_on:%Y%m%d}" in orjson.loads(out)["partitions_dropped"]

    records = await read_log(stack)
    keys = await held_keys(db, masters)
    assert_unreadable(records, post_id, [text], keys, at_least=1)
    assert_unreadable(records, poison_id, [poison_text], keys, at_least=1)
    assert await db.fetchval("SELECT count(*) FROM posts WHERE post_id = $1", post_id) == 0
    # Positive control: the 30-day channel's post still opens.
    [control] = sealed_payloads(records, control_id)
    assert opens(control, keys) == [{"type": "text", "text": control_text}]

    day = await report(http, owner, daily, day=expires_on.isoformat())
    assert day is not None
    assert {k: v for k, v in day.items() if k != "at"} == {
        "rows_dropped": 1,
        "partitions_dropped": 1,
        "media_removed": 0,
        "keys_destroyed": 2,
    }
    assert await report(http, owner, monthly, day=expires_on.isoformat()) is None
