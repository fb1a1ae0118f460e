"""SQL of scheduled posts (`scheduled_posts`): schedule, list, edit, cancel, and the
scheduler's claim of due rows.

Edits and cancels are plain statements on the row: while the scheduler publishes a row it
holds it `FOR UPDATE`, so an edit or cancel arriving then waits for that transaction and,
once the row is gone (published), touches nothing; the caller then edits or deletes the
published post instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.db.timing import timed

_COLUMNS = "channel_id, post_id, author_id, publish_at, request, created_at, updated_at, failed"


class KeyReused(Exception):
    """The Idempotency-Key was used before with a different request."""


async def schedule(
    pool: asyncpg.Pool,
    *,
    channel_id: UUID,
    post_id: UUID,
    author_id: str,
    publish_at: datetime,
    request: dict[str, Any],
    key: tuple[str, str] | None,
) -> UUID:
    """Store a scheduled post; the post_id scheduled. With `key` (Idempotency-Key, request
    hash) the key's row is written in the same transaction: a repeated request answers
    the post_id scheduled first and schedules nothing (an identical request racing this
    one waits inside its INSERT until this commits)."""
    async with pool.acquire() as conn, conn.transaction():
        if key is not None:
            await conn.execute(
                """
                INSERT INTO post_requests (channel_id, idempotency_key, request_hash, post_id,
                                           state)
                VALUES ($1, $2, $3, $4, 'accepted') ON CONFLICT DO NOTHING
                """,
                channel_id,
                key[0],
                key[1],
                post_id,
            )
            row = await conn.fetchrow(
                """
                SELECT post_id, request_hash FROM post_requests
                WHERE channel_id = $1 AND idempotency_key = $2
                """,
                channel_id,
                key[0],
            )
            if row["request_hash"] != key[1]:
                raise KeyReused
            if row["post_id"] != post_id:
                return UUID(str(row["post_id"]))
        await conn.execute(
            """
            INSERT INTO scheduled_posts (channel_id, post_id, author_id, publish_at, request)
            VALUES ($1, $2, $3, $4, $5)
            """,
            channel_id,
            post_id,
            author_id,
            publish_at,
            request,
        )
    return post_id


async def listed(pool: asyncpg.Pool, channel_id: UUID, limit: int) -> list[dict[str, Any]]:
    """The channel's scheduled posts, soonest first."""
    rows = await pool.fetch(
        f"""
        SELECT {_COLUMNS} FROM scheduled_posts WHERE channel_id = $1
        ORDER BY publish_at, post_id LIMIT $2
        """,
        channel_id,
        limit,
    )
    return [dict(row.items()) for row in rows]


async def get(pool: asyncpg.Pool, channel_id: UUID, post_id: UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM scheduled_posts WHERE channel_id = $1 AND post_id = $2",
        channel_id,
        post_id,
    )
    return None if row is None else dict(row.items())


async def edit(pool: asyncpg.Pool, channel_id: UUID, post_id: UUID, field: str, value: str) -> bool:
    """Replace the text or caption of a scheduled post (waits while the scheduler is
    publishing it); False when it is not scheduled (any more)."""
    assert field in ("text", "caption")
    status: str = await pool.execute(
        """
        UPDATE scheduled_posts
        SET request = jsonb_set(request, ARRAY[$3::text], to_jsonb($4::text)),
            updated_at = now()
        WHERE channel_id = $1 AND post_id = $2
        """,
        channel_id,
        post_id,
        field,
        value,
    )
    return status.endswith(" 1")


async def cancel(pool: asyncpg.Pool, channel_id: UUID, post_id: UUID) -> bool:
    """Remove a scheduled post (waits while the scheduler is publishing it); False when it
    is not scheduled (any more)."""
    status: str = await pool.execute(
        "DELETE FROM scheduled_posts WHERE channel_id = $1 AND post_id = $2",
        channel_id,
        post_id,
    )
    return status.endswith(" 1")


@timed("publisher", "claim_scheduled")
async def claim_due(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    """Lock up to `limit` due rows no other scheduler holds (run inside the transaction
    that deletes them once published)."""
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM scheduled_posts
        WHERE publish_at <= now() AND failed IS NULL
        ORDER BY publish_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [dict(row.items()) for row in rows]


async def remove(conn: asyncpg.Connection, channel_id: UUID, post_id: UUID) -> None:
    """Delete a row: its post is in the log (after the ack), or it is dropped."""
    await conn.execute(
        "DELETE FROM scheduled_posts WHERE channel_id = $1 AND post_id = $2",
        channel_id,
        post_id,
    )


async def refused(conn: asyncpg.Connection, channel_id: UUID, post_id: UUID, reason: str) -> None:
    await conn.execute(
        """
        UPDATE scheduled_posts SET failed = $3, updated_at = now()
        WHERE channel_id = $1 AND post_id = $2
        """,
        channel_id,
        post_id,
        reason,
    )


async def channel_gone(conn: asyncpg.Connection, channel_id: UUID) -> bool:
    """The channel was deleted (its scheduled posts are dropped, not kept as failed)."""
    status = await conn.fetchval("SELECT status FROM channels WHERE channel_id = $1", channel_id)
    return status is None or status == "deleted"
