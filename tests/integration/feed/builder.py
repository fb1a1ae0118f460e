"""Test data for the feed: channels created with SQL (the publisher's tables) and posts
published as real `post.published` events that the session's fan-out persists.

Nothing here fakes a service: channels are rows as the publisher writes them, posts go
through Kafka and the real fan-out, and helpers poll the feed API until they show.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import httpx
import orjson
from uuid6 import uuid7

from shared.events.content import PostBody
from shared.events.posts import PostDeleted, PostDeletedV1, PostPublished, PostPublishedV1
from shared.producer import ProducerHolder
from shared.topics import POSTS
from tests.support.stack import StackSlice
from tests.support.tokens import auth

T = TypeVar("T")
_handles = itertools.count(1)


def unique_handle(prefix: str = "ch") -> str:
    return f"{prefix}_{uuid4().hex[:8]}_{next(_handles)}"[:32]


async def create_channel(
    db: asyncpg.Pool,
    *,
    handle: str | None = None,
    name: str = "A channel",
    description: str = "",
    category: str = "news",
    country: str = "FR",
    language: str = "fr",
    settings: dict[str, Any] | None = None,
    retention_days: int = 30,
    status: str = "active",
    created_at: datetime | None = None,
) -> UUID:
    channel_id = uuid7()
    settings = settings or {"reactions": "all", "allowed_reactions": [], "forwarding": True}
    # The column mirrors settings.visibility, as the publisher writes them.
    await db.execute(
        """
        INSERT INTO channels (channel_id, handle, name, description, category, country,
                              language, settings, retention_days, status, created_at,
                              visibility)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, COALESCE($11, now()), $12)
        """,
        channel_id,
        handle or unique_handle(),
        name,
        description,
        category,
        country,
        language,
        settings,
        retention_days,
        status,
        created_at,
        settings.get("visibility", "public"),
    )
    return channel_id


def text_body(text: str) -> dict[str, Any]:
    return PostBody.model_validate({"type": "text", "text": text}).model_dump(mode="json")


def poll_body(question: str, options: list[str], multiple: bool = False) -> dict[str, Any]:
    return PostBody.model_validate(
        {"type": "poll", "poll": {"question": question, "options": options, "multiple": multiple}}
    ).model_dump(mode="json")


class Publisher:
    """Publishes posts to the session's posts topic, as the publisher service does."""

    def __init__(self, producer: ProducerHolder, stack: StackSlice) -> None:
        self.producer = producer
        self.topic = stack.topic(POSTS.name)

    async def publish(self, channel_id: UUID, body: dict[str, Any]) -> UUID:
        post_id = uuid7()
        created_at = datetime.fromtimestamp(post_id.time / 1000, UTC)
        event = PostPublished(
            payload=PostPublishedV1(
                channel_id=channel_id,
                post_id=post_id,
                author_id="admin-of-the-channel",
                body=PostBody.model_validate(body),
                created_at=created_at,
            )
        )
        await self.producer.send_and_wait(self.topic, event.encode(), key=str(channel_id).encode())
        return post_id

    async def delete(self, channel_id: UUID, post_id: UUID) -> None:
        event = PostDeleted(
            payload=PostDeletedV1(
                channel_id=channel_id, post_id=post_id, deleted_at=datetime.now(UTC)
            )
        )
        await self.producer.send_and_wait(self.topic, event.encode(), key=str(channel_id).encode())


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout_s: float = 20.0, what: str = "condition"
) -> T:
    """Poll `probe` until it returns something other than None/False."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


async def wait_post_visible(
    client: httpx.AsyncClient, channel_id: UUID, post_id: UUID
) -> dict[str, Any]:
    # A fresh account per wait: polling never eats into a test account's rate limit.
    poller = auth(f"poller-{uuid4().hex}")

    async def probe() -> dict[str, Any] | None:
        response = await client.get(
            f"/v1/channels/{channel_id}/posts", params={"limit": 100}, headers=poller
        )
        page = response.json()
        return next((p for p in page["items"] if p["post_id"] == str(post_id)), None)

    return await eventually(probe, what=f"post {post_id} visible")


async def add_followers(db: asyncpg.Pool, channel_id: UUID, accounts: list[str]) -> None:
    """Other accounts following through the API would do the same; set-based for speed."""
    await db.execute(
        """
        INSERT INTO follows (account_id, channel_id) SELECT a, $1 FROM unnest($2::text[]) a
        ON CONFLICT (account_id, channel_id) DO UPDATE SET active = true
        """,
        channel_id,
        accounts,
    )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
