"""SQL of the live stream: the current state of posts named by live events, and the
replay of changes since an event id after a reconnect (bounded)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from services.feed.live.ids import EventId
from shared.db.timing import timed

POST_STATE_COLUMNS = """
    p.channel_id, p.post_id, p.seq, p.status, p.body, p.created_at, p.edited_at,
    p.expires_at, p.changed_at
"""


@timed("feed", "stream_start")
async def stream_starts(
    conn: asyncpg.Connection, account_ids: list[str]
) -> tuple[datetime, dict[str, list[UUID]]]:
    """The database time (the position of a fresh stream) and the followed channels of
    each account (accounts that follow nothing are left out)."""
    rows = await conn.fetch(
        """
        SELECT now() AS now, a.account_id,
               ARRAY(SELECT channel_id FROM follows f
                      WHERE f.account_id = a.account_id AND f.active) AS ids
        FROM unnest($1::text[]) AS a(account_id)
        """,
        account_ids,
    )
    now: datetime = rows[0]["now"] if rows else await conn.fetchval("SELECT now()")
    return now, {row["account_id"]: list(row["ids"]) for row in rows if row["ids"]}


@timed("feed", "live_post_states")
async def post_states(
    conn: asyncpg.Connection, keys: list[tuple[UUID, UUID]]
) -> list[asyncpg.Record]:
    """Current rows of the (channel_id, post_id) pairs that still exist."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT {POST_STATE_COLUMNS}
        FROM posts p
        JOIN unnest($1::uuid[], $2::uuid[]) AS k(channel_id, post_id)
          ON p.channel_id = k.channel_id AND p.post_id = k.post_id
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return rows


@timed("feed", "sse_replay")
async def replay(
    conn: asyncpg.Connection, account_id: str, since: EventId, limit: int
) -> list[asyncpg.Record]:
    """Changes to posts of the followed active channels after `since`, oldest first, at
    most `limit` (callers ask for one more than they send to detect an overflow).
    Expired posts are left out: nothing past its expiry is served."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""
        SELECT x.* FROM follows f
        JOIN channels c ON c.channel_id = f.channel_id AND c.status = 'active'
        CROSS JOIN LATERAL (
            SELECT {POST_STATE_COLUMNS} FROM posts p
             WHERE p.channel_id = f.channel_id
               AND (p.changed_at, p.post_id) > ($2::timestamptz, $3::uuid)
               AND p.expires_at > now()
             ORDER BY p.changed_at, p.post_id
             LIMIT $4) x
        WHERE f.account_id = $1 AND f.active
        ORDER BY x.changed_at, x.post_id
        LIMIT $4
        """,
        account_id,
        since.changed_at,
        since.post_id,
        limit,
    )
    return rows
