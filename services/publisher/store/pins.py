"""SQL of pinned posts (`channel_pins`): at most `MAX_PINS` live pins per channel.

A pin is live while its post is published and not expired (`posts`, as fan-out persisted
it); readers join on that, so a pin of an expired or deleted post is never shown. `pin`
counts and inserts under the channel's advisory lock, so two concurrent pins cannot both
take the last place, and first drops the channel's dead pins (expired or deleted posts).
"""

from __future__ import annotations

import hashlib
from uuid import UUID

import asyncpg

from shared.db.timing import timed

MAX_PINS = 3
# The advisory-lock namespace of pins ("pins"): apart from alerts' and media's.
PIN_LOCK_CLASS = 0x70696E73


class NoSuchPost(Exception):
    """The post is not a published, unexpired post of the channel."""


class TooManyPins(Exception):
    """The channel already has `MAX_PINS` live pins."""


def _lock_id(channel_id: UUID) -> int:
    digest = hashlib.blake2b(channel_id.bytes, digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@timed("publisher", "pin_post")
async def pin(pool: asyncpg.Pool, channel_id: UUID, post_id: UUID) -> None:
    """Pin a live post (idempotent: pinning a pinned post changes nothing)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, $2)", PIN_LOCK_CLASS, _lock_id(channel_id)
        )
        created_at = await conn.fetchval(
            """
            SELECT created_at FROM posts
            WHERE channel_id = $1 AND post_id = $2 AND status = 'published'
              AND expires_at > now()
            """,
            channel_id,
            post_id,
        )
        if created_at is None:
            raise NoSuchPost
        await conn.execute(
            """
            DELETE FROM channel_pins cp
            WHERE cp.channel_id = $1 AND NOT EXISTS (
                SELECT 1 FROM posts p
                WHERE p.channel_id = cp.channel_id AND p.post_id = cp.post_id
                  AND p.created_at = cp.created_at AND p.status = 'published'
                  AND p.expires_at > now())
            """,
            channel_id,
        )
        pinned = await conn.fetch(
            "SELECT post_id FROM channel_pins WHERE channel_id = $1", channel_id
        )
        if any(row["post_id"] == post_id for row in pinned):
            return
        if len(pinned) >= MAX_PINS:
            raise TooManyPins
        await conn.execute(
            "INSERT INTO channel_pins (channel_id, post_id, created_at) VALUES ($1, $2, $3)",
            channel_id,
            post_id,
            created_at,
        )


async def unpin(db: asyncpg.Pool | asyncpg.Connection, channel_id: UUID, post_id: UUID) -> None:
    """Remove the pin (idempotent); also called when the post is deleted."""
    await db.execute(
        "DELETE FROM channel_pins WHERE channel_id = $1 AND post_id = $2", channel_id, post_id
    )
