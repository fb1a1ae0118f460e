"""Deleting posts row by row, together with everything that hangs off them.

Used where a whole partition cannot go yet: posts of channels with a retention shorter
than the longest one, and every post of a deleted channel. `delete_posts` runs inside the
caller's transaction (one bounded batch), so a kill leaves each batch either fully done or
not started, and a rerun simply finds what is left.

Removed with each post: its reactions, poll votes, counters and view sketch (keyed by
post_id) and its feed_items rows. feed_items has no index by post (fan-out's write path
stays lean); its rows are found by the batch's created_at range, which prunes the scan to
the day partitions the batch spans — batches are taken in created_at order, so that is
usually one day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from services.retention.ledger import ExpiryEntry, add_expiry
from services.retention.trims import record_trims


@dataclass(frozen=True)
class PostRef:
    channel_id: UUID
    post_id: UUID
    created_at: datetime
    seq: int


def uuid7_floor(at: datetime) -> UUID:
    """The smallest UUIDv7 of the millisecond `at`: post ids are UUIDv7 whose time is the
    post's created_at, and uuids compare bytewise, so `post_id < uuid7_floor(t)` selects
    exactly the posts created before `t` — a range on any index led by post_id."""
    return UUID(int=int(at.timestamp() * 1000) << 80)


def refs(rows: list[asyncpg.Record]) -> list[PostRef]:
    return [PostRef(r["channel_id"], r["post_id"], r["created_at"], r["seq"]) for r in rows]


async def delete_post_dependents(conn: asyncpg.Connection, post_ids: list[UUID]) -> None:
    """Reactions, votes, counters and views of these posts (caller's transaction)."""
    await conn.execute(
        """WITH r AS (DELETE FROM reactions WHERE post_id = ANY($1::uuid[])),
                v AS (DELETE FROM poll_votes WHERE post_id = ANY($1::uuid[])),
                c AS (DELETE FROM post_counters WHERE post_id = ANY($1::uuid[]))
           DELETE FROM post_views WHERE post_id = ANY($1::uuid[])""",
        post_ids,
    )


async def delete_posts(
    conn: asyncpg.Connection, batch: list[PostRef], *, ledger: bool = False
) -> int:
    """Delete the posts of `batch` and all rows attached to them; return posts deleted.

    Records a history_trimmed owed for each channel that lost posts and, with `ledger`
    (expiry), the rows removed per channel and expiry day in the deletion ledger.
    """
    if not batch:
        return 0
    channel_ids = [p.channel_id for p in batch]
    post_ids = [p.post_id for p in batch]
    created = [p.created_at for p in batch]
    # Counted per post inside Postgres: the feed rows themselves never reach Python.
    feed_rows = await conn.fetch(
        """WITH d AS (
               DELETE FROM feed_items
               WHERE created_at BETWEEN $1 AND $2
                 AND (channel_id, post_id) IN (
                     SELECT * FROM unnest($3::uuid[], $4::uuid[]))
               RETURNING post_id)
           SELECT post_id, count(*) AS n FROM d GROUP BY post_id""",
        min(created),
        max(created),
        channel_ids,
        post_ids,
    )
    await delete_post_dependents(conn, post_ids)
    gone = await conn.fetch(
        """DELETE FROM posts p
           USING unnest($1::uuid[], $2::uuid[], $3::timestamptz[])
                 AS d(channel_id, post_id, created_at)
           WHERE p.channel_id = d.channel_id AND p.post_id = d.post_id
             AND p.created_at = d.created_at
           RETURNING p.channel_id, p.post_id, p.seq, p.expires_at""",
        channel_ids,
        post_ids,
        created,
    )
    await record_trims(conn, [r["channel_id"] for r in gone], [r["seq"] for r in gone])
    if ledger:
        fed = {r["post_id"]: int(r["n"]) for r in feed_rows}
        await add_expiry(
            conn,
            (
                ExpiryEntry(
                    r["channel_id"],
                    r["expires_at"].astimezone(UTC).date(),
                    rows_dropped=1 + fed.get(r["post_id"], 0),
                )
                for r in gone
            ),
        )
    return len(gone)
