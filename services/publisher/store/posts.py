"""SQL for publishing: the Idempotency-Key election and the record of accepted posts.

Election: the first `INSERT … ON CONFLICT DO NOTHING` into `post_requests` for a
(channel, key) wins and holds its transaction open while it produces; identical requests
arriving meanwhile block inside their own INSERT until the winner commits (then they read
its post_id) or aborts (then one of them wins). A winner whose produce fails commits the
row as 'failed': the next request with the key takes it over and produces the same
post_id again, so a produce that did land after its timeout cannot yield a second post.

`reserve` commits the key's row (and so its post_id) BEFORE the election transaction: a
winner killed after the broker took its post but before its transaction committed leaves
the row 'pending', and the retry takes it over with the same post_id (found by the chaos
suite: without it the retry published the post a second time). The election then row-locks
the reserved row (`SELECT … FOR UPDATE`), so identical requests still wait for the winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.db.timing import timed


@dataclass(frozen=True)
class Claim:
    """The outcome of the election for one request."""

    post_id: UUID
    # True: this request must produce `post_id`. False: it was already accepted (replay).
    produce: bool


class KeyReused(Exception):
    """The Idempotency-Key was used before with a different request."""


class ConcurrentFailure(Exception):
    """The concurrent request holding this key failed to publish just now."""


async def reserve(
    db: asyncpg.Pool | asyncpg.Connection,
    channel_id: UUID,
    key: str,
    request_hash: str,
    new_post_id: UUID,
) -> None:
    """Commit the key's row unless it exists (outside the election transaction)."""
    await db.execute(
        """
        INSERT INTO post_requests (channel_id, idempotency_key, request_hash, post_id)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
        """,
        channel_id,
        key,
        request_hash,
        new_post_id,
    )


@timed("publisher", "claim_idempotency_key")
async def claim(
    conn: asyncpg.Connection,
    channel_id: UUID,
    key: str,
    request_hash: str,
    new_post_id: UUID,
) -> Claim:
    """Run inside the transaction that will also record the outcome."""
    won = await conn.fetchval(
        """
        INSERT INTO post_requests (channel_id, idempotency_key, request_hash, post_id)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING post_id
        """,
        channel_id,
        key,
        request_hash,
        new_post_id,
    )
    if won is not None:
        return Claim(won, produce=True)
    row = await conn.fetchrow(
        """
        SELECT post_id, request_hash, state,
               -- failed after this transaction began, i.e. while we waited for it
               state = 'failed' AND updated_at >= now() AS failed_meanwhile
        FROM post_requests
        WHERE channel_id = $1 AND idempotency_key = $2
        FOR UPDATE
        """,
        channel_id,
        key,
    )
    if row is None:  # expired and removed between the two statements: start over
        return await claim(conn, channel_id, key, request_hash, new_post_id)
    if row["request_hash"] != request_hash:
        raise KeyReused
    if row["state"] == "accepted":
        return Claim(row["post_id"], produce=False)
    if row["failed_meanwhile"]:
        # It failed while this request waited for it: report, don't retry in a cascade.
        raise ConcurrentFailure
    # A failed (or abandoned) earlier attempt: take it over, row-locked until we commit.
    taken = await conn.fetchval(
        """
        UPDATE post_requests SET state = 'pending', updated_at = now()
        WHERE channel_id = $1 AND idempotency_key = $2 AND state <> 'accepted'
        RETURNING post_id
        """,
        channel_id,
        key,
    )
    if taken is None:
        return Claim(row["post_id"], produce=False)
    return Claim(taken, produce=True)


async def set_request_state(
    conn: asyncpg.Connection, channel_id: UUID, key: str, state: str
) -> None:
    await conn.execute(
        """
        UPDATE post_requests SET state = $3, updated_at = clock_timestamp()
        WHERE channel_id = $1 AND idempotency_key = $2
        """,
        channel_id,
        key,
        state,
    )


@timed("publisher", "record_accepted_post")
async def record_accepted(
    db: asyncpg.Pool | asyncpg.Connection,
    *,
    channel_id: UUID,
    post_id: UUID,
    created_at: datetime,
    post_type: str,
    author_id: str,
    media_id: UUID | None,
    expires_at: datetime,
) -> None:
    await db.execute(
        """
        INSERT INTO accepted_posts (channel_id, post_id, created_at, type, author_id,
                                    media_id, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
        """,
        channel_id,
        post_id,
        created_at,
        post_type,
        author_id,
        media_id,
        expires_at,
    )


async def accepted_post(
    pool: asyncpg.Pool, channel_id: UUID, post_id: UUID
) -> dict[str, Any] | None:
    """The accepted post if it exists and is still within its retention window."""
    row = await pool.fetchrow(
        """
        SELECT post_id, channel_id, created_at, type, status, expires_at, edited_at,
               deleted_at
        FROM accepted_posts
        WHERE channel_id = $1 AND post_id = $2 AND expires_at > now()
        """,
        channel_id,
        post_id,
    )
    return None if row is None else dict(row.items())


async def persisted_post(
    pool: asyncpg.Pool, channel_id: UUID, post_id: UUID, created_at: datetime
) -> dict[str, Any] | None:
    """The post as fan-out persisted it (seq, status), if it has yet."""
    row = await pool.fetchrow(
        """
        SELECT seq, status, edited_at, deleted_at FROM posts
        WHERE channel_id = $1 AND post_id = $2 AND created_at = $3
        """,
        channel_id,
        post_id,
        created_at,
    )
    return None if row is None else dict(row.items())


async def mark_edited(
    db: asyncpg.Pool | asyncpg.Connection, channel_id: UUID, post_id: UUID, at: datetime
) -> None:
    # The latest edit wins even when two concurrent edits record out of order.
    await db.execute(
        """
        UPDATE accepted_posts SET edited_at = greatest(edited_at, $3)
        WHERE channel_id = $1 AND post_id = $2
        """,
        channel_id,
        post_id,
        at,
    )


async def mark_deleted(
    db: asyncpg.Pool | asyncpg.Connection, channel_id: UUID, post_id: UUID, at: datetime
) -> None:
    await db.execute(
        """
        UPDATE accepted_posts SET status = 'deleted', deleted_at = $3
        WHERE channel_id = $1 AND post_id = $2
        """,
        channel_id,
        post_id,
        at,
    )
