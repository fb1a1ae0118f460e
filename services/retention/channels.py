"""Deleted channels (`channels.status = 'deleted'`): all their content goes in one run.

For each deleted channel not yet purged (or purged less than a grace period ago, to
sweep posts fan-out may still have been writing): its posts with their feed rows,
interactions and content keys (posts.delete_posts, in batches by seq; keys by post id, so
the channel's records on the posts topic and the DLQ are unreadable from then on), then
whatever rows of the channel are left in reactions, poll_votes, post_counters, post_views,
follows, channel_stats, channel_follower_days and post_requests, each in bounded batches.
Its media rows and files go in the media step (media.py), which treats a deleted
channel's media as expired.

The channel row itself stays as the publisher's tombstone (its handle is already free for
reuse), blanked of its name, description and avatar. Every batch is its own transaction
and repeating any of them is a no-op, so a kill anywhere is finished by the next run; the
channel is marked purged only at the end.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from services.retention.batches import in_transaction
from services.retention.posts import delete_posts, refs
from shared.db.timing import timed
from shared.metrics.retention import POSTS_EXPIRED

log = logging.getLogger(__name__)

# Posts of a channel deleted while its events were in flight may still land for a while.
PURGE_GRACE = timedelta(days=1)

# Rows of the channel outside posts, by table, with the key that deletes one row.
CHANNEL_ROWS: tuple[tuple[str, str], ...] = (
    ("reactions", "post_id, account_id"),
    ("poll_votes", "post_id, account_id"),
    ("post_counters", "post_id, kind, key"),
    ("post_views", "post_id"),
    ("follows", "account_id, channel_id"),
    ("channel_follower_days", "channel_id, day"),
    ("post_requests", "channel_id, idempotency_key"),
    ("accepted_posts", "channel_id, post_id"),
    ("channel_stats", "channel_id"),
)


def delete_by_channel_sql(table: str, key: str) -> str:
    """A bounded delete of one channel's rows in `table` (fixed names, never input)."""
    return (
        f"DELETE FROM {table} t USING ("  # table and key: constants above
        f"SELECT {key} FROM {table} WHERE channel_id = $1 LIMIT $2) d "
        f"WHERE ({', '.join('t.' + k.strip() for k in key.split(','))}) = "
        f"({', '.join('d.' + k.strip() for k in key.split(','))})"
    )


async def channels_to_purge(conn: asyncpg.Connection, now: datetime) -> list[UUID]:
    rows = await conn.fetch(
        """SELECT c.channel_id FROM channels c
           LEFT JOIN retention_purged_channels r USING (channel_id)
           WHERE c.status = 'deleted' AND (r.channel_id IS NULL OR r.purged_at > $1)
           ORDER BY c.channel_id""",
        now - PURGE_GRACE,
    )
    return [r["channel_id"] for r in rows]


async def purge_channel(pool: asyncpg.Pool, channel_id: UUID, now: datetime, batch: int) -> int:
    """Delete every post and row of one deleted channel; return posts deleted."""

    async def posts_batch(conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(
            """SELECT channel_id, post_id, created_at, seq FROM posts
               WHERE channel_id = $1 ORDER BY seq LIMIT $2""",
            channel_id,
            batch,
        )
        # Their content keys too: the channel's records on the posts topic and the DLQ
        # become unreadable now rather than on their expiry day.
        await conn.execute(
            "DELETE FROM content_keys WHERE post_id = ANY($1::uuid[])",
            [r["post_id"] for r in rows],
        )
        return await delete_posts(conn, refs(rows))

    posts = 0
    while deleted := await in_transaction(pool, posts_batch):
        posts += deleted
        POSTS_EXPIRED.labels(reason="channel_deleted").inc(deleted)
    for table, key in CHANNEL_ROWS:
        sql = delete_by_channel_sql(table, key)
        while True:
            status = await pool.execute(sql, channel_id, batch)
            if int(status.split()[-1]) == 0:
                break
    # The tombstone keeps only what the handle check needs: the channel's own words go.
    await pool.execute(
        """UPDATE channels SET name = 'deleted channel', description = '', avatar_media_id = NULL
           WHERE channel_id = $1 AND status = 'deleted'""",
        channel_id,
    )
    await pool.execute(
        """INSERT INTO retention_purged_channels (channel_id, purged_at) VALUES ($1, $2)
           ON CONFLICT (channel_id) DO NOTHING""",
        channel_id,
        now,
    )
    return posts


@timed("retention", "purge_channels")
async def purge_deleted_channels(pool: asyncpg.Pool, now: datetime, batch: int) -> int:
    """Purge every deleted channel that still needs it; return posts deleted."""
    async with pool.acquire() as conn:
        channel_ids = await channels_to_purge(conn, now)
    posts = 0
    for channel_id in channel_ids:
        posts += await purge_channel(pool, channel_id, now, batch)
    if channel_ids:
        log.info("deleted channels purged", extra={"channels": len(channel_ids), "posts": posts})
    return posts
