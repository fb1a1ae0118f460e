"""Reading posts: the columns every post answer carries, channel history, timeline.

Visibility is the same everywhere: `status = 'published' AND expires_at > now()` and the
channel `active`. Expired rows may still exist until retention drops their partition; they
are never served. Counters come from fan-out's aggregates; the caller's own reaction and
vote from their rows (anonymous callers pass NULL and match nothing).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from shared.db.timing import timed

VISIBLE = "p.status = 'published' AND p.expires_at > now()"


def post_fields(account_param: str) -> str:
    """Select-list of a post `p` with counters and the caller's own state."""
    return f"""
    p.channel_id, p.post_id, p.seq, p.body, p.created_at, p.edited_at, p.expires_at,
    COALESCE((SELECT jsonb_object_agg(pc.key, pc.count) FROM post_counters pc
              WHERE pc.post_id = p.post_id AND pc.kind = 'reaction' AND pc.count > 0),
             '{{}}'::jsonb) AS reactions,
    COALESCE((SELECT jsonb_object_agg(pc.key, pc.count) FROM post_counters pc
              WHERE pc.post_id = p.post_id AND pc.kind = 'vote' AND pc.count > 0),
             '{{}}'::jsonb) AS votes,
    COALESCE((SELECT round(hll_cardinality(v.sketch)) FROM post_views v
              WHERE v.post_id = p.post_id), 0)::bigint AS views,
    (SELECT r.emoji FROM reactions r
      WHERE r.post_id = p.post_id AND r.account_id = {account_param}) AS my_reaction,
    (SELECT pv.options FROM poll_votes pv
      WHERE pv.post_id = p.post_id AND pv.account_id = {account_param}) AS my_vote
    """


CHANNEL_HISTORY = f"""
SELECT {post_fields("$5")}
FROM posts p
WHERE p.channel_id = $1 AND {VISIBLE}
  AND ($2::bigint IS NULL OR p.seq < $2)
  AND ($3::bigint IS NULL OR p.seq > $3)
ORDER BY p.seq DESC
LIMIT $4
"""

# The timeline contract (DESIGN/brief): the account's feed_items UNION the not-fanned-out
# posts of channels it actively follows unmuted since followed_at; both kept only while
# visible and still followed. Each branch is cut to the page size after filtering, so the
# union's first `limit` rows are exactly the page and the keyset never skips a row.
# The feed_items branch also requires created_at >= followed_at, which fan-out guarantees
# for a continuous follow; after an unfollow and a later re-follow it keeps both branches
# identical (no posts from the earlier follow period on either side of the threshold).
TIMELINE = f"""
WITH f AS (
    SELECT channel_id, followed_at FROM follows
    WHERE account_id = $1 AND active AND NOT muted
),
cand AS (
    (SELECT fi.channel_id, fi.post_id, fi.created_at
       FROM feed_items fi
       JOIN f ON f.channel_id = fi.channel_id AND fi.created_at >= f.followed_at
       JOIN posts p ON p.channel_id = fi.channel_id AND p.post_id = fi.post_id
                   AND p.created_at = fi.created_at
       JOIN channels c ON c.channel_id = fi.channel_id AND c.status = 'active'
      WHERE fi.account_id = $1 AND {VISIBLE}
        AND ($2::timestamptz IS NULL OR (fi.created_at, fi.post_id) < ($2, $3::uuid))
      ORDER BY fi.created_at DESC, fi.post_id DESC
      LIMIT $4)
    UNION
    (SELECT m.channel_id, m.post_id, m.created_at
       FROM f
       JOIN channels c ON c.channel_id = f.channel_id AND c.status = 'active'
       CROSS JOIN LATERAL (
            SELECT p.channel_id, p.post_id, p.created_at FROM posts p
             WHERE p.channel_id = f.channel_id AND NOT p.fanned_out
               AND p.created_at >= f.followed_at AND {VISIBLE}
               AND ($2::timestamptz IS NULL OR (p.created_at, p.post_id) < ($2, $3::uuid))
             ORDER BY p.created_at DESC, p.post_id DESC
             LIMIT $4) m
      ORDER BY m.created_at DESC, m.post_id DESC
      LIMIT $4)
)
SELECT {post_fields("$1")},
       c.handle, c.name, c.avatar_media_id, c.verified
FROM cand
JOIN posts p ON p.channel_id = cand.channel_id AND p.post_id = cand.post_id
            AND p.created_at = cand.created_at
JOIN channels c ON c.channel_id = p.channel_id
ORDER BY cand.created_at DESC, cand.post_id DESC
LIMIT $4
"""


@timed("feed", "channel_history")
async def channel_history(
    conn: asyncpg.Connection,
    channel_id: UUID,
    *,
    before: int | None,
    after: int | None,
    limit: int,
    account_id: str | None,
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        CHANNEL_HISTORY, channel_id, before, after, limit, account_id
    )
    return rows


@timed("feed", "timeline")
async def timeline(
    conn: asyncpg.Connection,
    account_id: str,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    ts, post_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(TIMELINE, account_id, ts, post_id, limit)
    return rows


def counters_of(row: asyncpg.Record) -> dict[str, Any]:
    return {"reactions": row["reactions"], "votes": row["votes"], "views": row["views"]}


def post_of(row: asyncpg.Record) -> dict[str, Any]:
    """The PostPublic fields of a row selected with `post_fields`."""
    vote = row["my_vote"]
    return {
        "channel_id": row["channel_id"],
        "post_id": row["post_id"],
        "seq": row["seq"],
        "body": row["body"],
        "created_at": row["created_at"],
        "edited_at": row["edited_at"],
        "expires_at": row["expires_at"],
        "counters": counters_of(row),
        "my_reaction": row["my_reaction"],
        "my_vote": list(vote) if vote is not None else None,
    }
