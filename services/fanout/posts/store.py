"""SQL of the posts path. Every function runs inside the caller's transaction; every
statement is set-based (arrays unnested in Postgres), never one row per round trip.

Seqs are race-free because `lock_channels` takes the channel rows `FOR UPDATE` (in id
order, so two writers during a rebalance cannot deadlock) before anything checks which
posts exist: whoever holds the lock is the only one inserting that channel's posts.

Content keys (crypto-shredding): a post row records the key of its current version
(`key_id`, `key_expires_on`); applying an edit destroys the key it replaces, applying a
delete destroys every key of the post, in the same transaction (`content_keys` rows are
deleted, not flagged).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

import asyncpg

from services.fanout.posts.opening import KeyRef
from services.fanout.posts.plan import ChannelState, Delete, Edit, NewPost
from shared.db.ledger import record_post_deletions


async def lock_channels(conn: asyncpg.Connection, ids: Sequence[UUID]) -> dict[UUID, ChannelState]:
    rows = await conn.fetch(
        """SELECT channel_id, status, last_seq, retention_days FROM channels
           WHERE channel_id = ANY($1::uuid[]) ORDER BY channel_id FOR UPDATE""",
        list(ids),
    )
    return {
        r["channel_id"]: ChannelState(r["status"], r["last_seq"], r["retention_days"]) for r in rows
    }


async def existing_posts(
    conn: asyncpg.Connection, keys: Sequence[tuple[UUID, UUID, datetime]]
) -> set[UUID]:
    if not keys:
        return set()
    rows = await conn.fetch(
        """SELECT p.post_id FROM posts p
           JOIN unnest($1::uuid[], $2::uuid[], $3::timestamptz[])
                AS t(channel_id, post_id, created_at)
             ON p.channel_id = t.channel_id AND p.post_id = t.post_id
            AND p.created_at = t.created_at""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    return {r["post_id"] for r in rows}


async def ensure_day_partitions(conn: asyncpg.Connection, days: Sequence[date]) -> None:
    """Create the posts and feed_items partitions of these days where missing (the
    function only runs DDL for a missing day, so the usual call takes no table lock)."""
    if not days:
        return
    first, last = min(days), max(days)
    for table in ("posts", "feed_items"):
        await conn.fetchval("SELECT herald_ensure_day_partitions($1, $2, $3)", table, first, last)


async def active_follower_counts(
    conn: asyncpg.Connection, channel_ids: Sequence[UUID], threshold: int
) -> dict[UUID, int]:
    """Active non-muted followers per channel, counted up to `threshold + 1` only: the cost
    is bounded by the threshold, never by the size of a million-follower channel."""
    rows = await conn.fetch(
        """SELECT c.channel_id,
                  (SELECT count(*) FROM (
                       SELECT 1 FROM follows f
                       WHERE f.channel_id = c.channel_id AND f.active AND NOT f.muted
                       LIMIT $2) capped) AS followers
           FROM unnest($1::uuid[]) AS c(channel_id)""",
        list(channel_ids),
        threshold + 1,
    )
    return {r["channel_id"]: r["followers"] for r in rows}


async def insert_posts(
    conn: asyncpg.Connection, posts: Sequence[NewPost], fanned_out: set[UUID]
) -> set[UUID]:
    """Insert the new posts; returns the post ids the database actually inserted."""
    if not posts:
        return set()
    rows = await conn.fetch(
        """INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body,
                              expires_at, fanned_out, key_id, key_expires_on)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::bigint[],
                                $5::text[], $6::jsonb[], $7::timestamptz[], $8::boolean[],
                                $9::uuid[], $10::date[])
           ON CONFLICT (channel_id, post_id, created_at) DO NOTHING
           RETURNING post_id""",
        [p.channel_id for p in posts],
        [p.post_id for p in posts],
        [p.created_at for p in posts],
        [p.seq for p in posts],
        [p.author_id for p in posts],
        [p.body for p in posts],
        [p.expires_at for p in posts],
        [p.post_id in fanned_out for p in posts],
        [None if p.key is None else p.key.key_id for p in posts],
        [None if p.key is None else p.key.expires_on for p in posts],
    )
    return {r["post_id"] for r in rows}


async def write_feed_items(conn: asyncpg.Connection, posts: Sequence[NewPost]) -> int:
    """One feed row per active non-muted follower (followed at or before the post) of each
    post, chosen and written inside Postgres. No ON CONFLICT: these posts were inserted by
    this transaction, so their rows cannot exist yet."""
    if not posts:
        return 0
    status = await conn.execute(
        """INSERT INTO feed_items (account_id, created_at, channel_id, post_id, seq)
           SELECT f.account_id, t.created_at, t.channel_id, t.post_id, t.seq
           FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::bigint[])
                AS t(channel_id, post_id, created_at, seq)
           JOIN follows f ON f.channel_id = t.channel_id AND f.active AND NOT f.muted
                         AND f.followed_at <= t.created_at""",
        [p.channel_id for p in posts],
        [p.post_id for p in posts],
        [p.created_at for p in posts],
        [p.seq for p in posts],
    )
    return int(status.rsplit(" ", 1)[-1])


async def advance_channels(
    conn: asyncpg.Connection, heads: dict[UUID, tuple[int, datetime]]
) -> None:
    if not heads:
        return
    await conn.execute(
        """UPDATE channels c
           SET last_seq = t.last_seq,
               last_post_at = greatest(c.last_post_at, t.last_post_at)
           FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[])
                AS t(channel_id, last_seq, last_post_at)
           WHERE c.channel_id = t.channel_id""",
        list(heads),
        [h[0] for h in heads.values()],
        [h[1] for h in heads.values()],
    )


async def apply_edits(conn: asyncpg.Connection, edits: Sequence[Edit]) -> list[asyncpg.Record]:
    """Edit text/caption of published posts and make each edit's key the post's, destroying
    the key of the version it replaces (one statement: the CTE reads the rows as they were
    before the update); returns (channel_id, post_id, seq, body, edited_at) of the posts
    changed. A redelivered edit finds its own key current and destroys nothing."""
    if not edits:
        return []
    rows: list[asyncpg.Record] = await conn.fetch(
        """WITH t AS (
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
                                    $5::timestamptz[], $6::uuid[], $7::date[])
                   AS t(channel_id, post_id, text, caption, edited_at, key_id, key_expires_on)
           ), replaced AS (
               DELETE FROM content_keys k
               USING posts p, t
               WHERE p.channel_id = t.channel_id AND p.post_id = t.post_id
                 AND p.status = 'published' AND p.key_id IS NOT NULL
                 AND p.key_id IS DISTINCT FROM t.key_id
                 AND k.expires_on = p.key_expires_on AND k.key_id = p.key_id
           )
           UPDATE posts p
           SET body = p.body
                      || CASE WHEN t.text IS NULL THEN '{}'::jsonb
                              ELSE jsonb_build_object('text', t.text) END
                      || CASE WHEN t.caption IS NULL THEN '{}'::jsonb
                              ELSE jsonb_build_object('caption', t.caption) END,
               edited_at = greatest(p.edited_at, t.edited_at),
               changed_at = now(),
               key_id = t.key_id,
               key_expires_on = t.key_expires_on
           FROM t
           WHERE p.channel_id = t.channel_id AND p.post_id = t.post_id
             AND p.status = 'published'
           RETURNING p.channel_id, p.post_id, p.seq, p.body, p.edited_at""",
        [e.channel_id for e in edits],
        [e.post_id for e in edits],
        [e.text for e in edits],
        [e.caption for e in edits],
        [e.edited_at for e in edits],
        [None if e.key is None else e.key.key_id for e in edits],
        [None if e.key is None else e.key.expires_on for e in edits],
    )
    return rows


async def destroy_keys(conn: asyncpg.Connection, keys: Sequence[KeyRef]) -> int:
    """Destroy these content keys (versions that never became current); how many were."""
    if not keys:
        return 0
    status = await conn.execute(
        """DELETE FROM content_keys k
           USING unnest($1::uuid[], $2::date[]) AS t(key_id, expires_on)
           WHERE k.expires_on = t.expires_on AND k.key_id = t.key_id""",
        [k.key_id for k in keys],
        [k.expires_on for k in keys],
    )
    return int(status.rsplit(" ", 1)[-1])


async def apply_deletes(
    conn: asyncpg.Connection, deletes: Sequence[Delete]
) -> list[asyncpg.Record]:
    """Turn published posts into tombstones (seq kept, body reduced to its type) and
    destroy every content key of each deleted post (all its versions, also those of a
    post not persisted yet: its publish, met later, is then unreadable and skipped);
    returns (channel_id, post_id, seq) of the posts deleted now."""
    if not deletes:
        return []
    destroyed = await conn.fetch(
        """WITH k AS (DELETE FROM content_keys WHERE post_id = ANY($1::uuid[])
                      RETURNING channel_id, post_id)
           SELECT channel_id, post_id, count(*) AS n FROM k GROUP BY 1, 2""",
        [d.post_id for d in deletes],
    )
    rows: list[asyncpg.Record] = await conn.fetch(
        """UPDATE posts p
           SET status = 'deleted',
               body = jsonb_build_object('type', p.body->'type'),
               deleted_at = t.deleted_at,
               changed_at = now()
           FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])
                AS t(channel_id, post_id, deleted_at)
           WHERE p.channel_id = t.channel_id AND p.post_id = t.post_id
             AND p.status = 'published'
           RETURNING p.channel_id, p.post_id, p.seq""",
        [d.channel_id for d in deletes],
        [d.post_id for d in deletes],
        [d.deleted_at for d in deletes],
    )
    # The deletion report's evidence, in this same transaction (shared/db/ledger.py).
    await record_post_deletions(
        conn,
        [(r["channel_id"], r["post_id"]) for r in rows],
        [(k["channel_id"], k["post_id"], k["n"]) for k in destroyed],
    )
    return rows
