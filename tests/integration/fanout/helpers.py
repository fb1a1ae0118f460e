"""Build fan-out test data with SQL (channels, followers) and produce post and interaction
events the way the publisher and feed services do."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer
from uuid6 import uuid7

from shared.events.content import PostBody, PostType
from shared.events.envelope import Event
from shared.events.posts import (
    ChannelDeleted,
    ChannelDeletedV1,
    PostDeleted,
    PostDeletedV1,
    PostEdited,
    PostEditedV1,
    PostPublished,
    PostPublishedV1,
)

T = TypeVar("T")


async def make_channel(
    db: asyncpg.Pool, followers: int = 0, muted: int = 0, retention_days: int = 30
) -> UUID:
    """A channel with `followers` active followers, the first `muted` of them muted."""
    channel_id = uuid.uuid4()
    handle = f"c{channel_id.hex[:20]}"
    async with db.acquire() as conn:
        await conn.execute(
            """INSERT INTO channels (channel_id, handle, name, category, country, language,
                                     retention_days)
               VALUES ($1, $2, $2, 'news', 'GB', 'en', $3)""",
            channel_id,
            handle,
            retention_days,
        )
        await add_followers(conn, channel_id, followers, muted)
    return channel_id


async def add_followers(
    conn: asyncpg.Connection, channel_id: UUID, n: int, muted: int = 0, start: int = 0
) -> None:
    await conn.execute(
        """INSERT INTO follows (account_id, channel_id, followed_at, muted, counted_active)
           SELECT $1::text || i, $2, now() - interval '1 hour', i < $3::int + $4::int, true
           FROM generate_series($4::int, $4::int + $5::int - 1) AS i""",
        f"acct-{channel_id.hex[:8]}-",
        channel_id,
        muted,
        start,
        n,
    )


def published(
    channel_id: UUID, text: str = "hello", request_id: str | None = None
) -> PostPublished:
    post_id = uuid7()
    created_at = datetime.fromtimestamp((post_id.int >> 80) / 1000, UTC)
    return PostPublished(
        request_id=request_id,
        payload=PostPublishedV1(
            channel_id=channel_id,
            post_id=post_id,
            author_id="admin-1",
            body=PostBody(type=PostType.TEXT, text=text),
            created_at=created_at,
        ),
    )


def edited(channel_id: UUID, post_id: UUID, text: str) -> PostEdited:
    return PostEdited(
        payload=PostEditedV1(
            channel_id=channel_id, post_id=post_id, text=text, edited_at=datetime.now(UTC)
        )
    )


def deleted(channel_id: UUID, post_id: UUID) -> PostDeleted:
    return PostDeleted(
        payload=PostDeletedV1(channel_id=channel_id, post_id=post_id, deleted_at=datetime.now(UTC))
    )


def channel_deleted(channel_id: UUID) -> ChannelDeleted:
    return ChannelDeleted(
        payload=ChannelDeletedV1(channel_id=channel_id, deleted_at=datetime.now(UTC))
    )


async def send(
    producer: AIOKafkaProducer, topic: str, key: UUID | str, *values: Event | bytes
) -> None:
    """Produce in order (one key ⇒ one partition) and wait for every acknowledgement."""
    raw_key = str(key).encode()
    futures = [
        await producer.send(topic, v if isinstance(v, bytes) else v.encode(), key=raw_key)
        for v in values
    ]
    await asyncio.gather(*futures)


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    timeout_s: float = 60.0,
    what: str = "condition",
) -> T:
    """Poll `probe` until `done(value)`; fail with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout_s}s; last value: {value!r}")
        await asyncio.sleep(0.2)


def older_than(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)
