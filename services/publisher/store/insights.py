"""SQL for insights: counts fan-out aggregated, never who.

Followers come from `channel_stats`, the 7-day change from `channel_follower_days`, unique
views from the HyperLogLog sketch in `post_views`, reactions and votes from
`post_counters`. Posts are the channel's published, unexpired ones, newest first by seq.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

FOLLOWER_CHANGE_DAYS = 7


async def follower_numbers(pool: asyncpg.Pool, channel_id: UUID) -> tuple[int, int]:
    row = await pool.fetchrow(
        """
        SELECT coalesce((SELECT followers FROM channel_stats WHERE channel_id = $1), 0)
                   AS followers,
               coalesce((SELECT sum(delta) FROM channel_follower_days
                         WHERE channel_id = $1
                           AND day > (now() AT TIME ZONE 'UTC')::date - $2::int), 0)
                   AS change
        """,
        channel_id,
        FOLLOWER_CHANGE_DAYS,
    )
    assert row is not None
    return int(row["followers"]), int(row["change"])


async def post_numbers(
    pool: asyncpg.Pool, channel_id: UUID, before_seq: int | None, limit: int
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """
        SELECT p.post_id, p.seq, p.created_at, p.body->>'type' AS type,
               jsonb_array_length(p.body->'poll'->'options') AS poll_options,
               coalesce(round(hll_cardinality(v.sketch)), 0)::bigint AS views,
               coalesce(r.counts, '{}'::jsonb) AS reactions,
               coalesce(o.counts, '{}'::jsonb) AS votes
        FROM posts p
        LEFT JOIN post_views v ON v.post_id = p.post_id
        LEFT JOIN LATERAL (
            SELECT jsonb_object_agg(c.key, c.count) AS counts FROM post_counters c
            WHERE c.post_id = p.post_id AND c.kind = 'reaction' AND c.count > 0
        ) r ON true
        LEFT JOIN LATERAL (
            SELECT jsonb_object_agg(c.key, c.count) AS counts FROM post_counters c
            WHERE c.post_id = p.post_id AND c.kind = 'vote'
        ) o ON true
        WHERE p.channel_id = $1 AND p.status = 'published' AND p.expires_at > now()
          AND ($2::bigint IS NULL OR p.seq < $2)
        ORDER BY p.seq DESC
        LIMIT $3
        """,
        channel_id,
        before_seq,
        limit,
    )
    return [dict(row.items()) for row in rows]
