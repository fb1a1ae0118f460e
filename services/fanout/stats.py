"""Windowed directory stats: posts in the last 7 days ("active") and follower change
over 7 days, written to channel_stats every `stats_flush_interval_s`.

Derived from what the fan-out already keeps exactly (posts, channel_follower_days), not
from an in-memory window: it survives restarts and redeliveries for free, and several
fan-out instances writing it concurrently write the same numbers. Only channels with
activity in the last 8 days are refreshed, so the work follows activity, and a channel
that went quiet decays to 0 one last time.
"""

from __future__ import annotations

import logging

import asyncpg

from services.fanout.periodic import Periodic

log = logging.getLogger(__name__)

REFRESH_SQL = """
WITH recent AS (
    SELECT channel_id FROM channels
    WHERE status = 'active' AND last_post_at > now() - interval '8 days'
    UNION
    SELECT DISTINCT channel_id FROM channel_follower_days
    WHERE day > (now() AT TIME ZONE 'UTC')::date - 8
)
INSERT INTO channel_stats AS s (channel_id, posts_7d, followers_7d_change, updated_at)
SELECT r.channel_id,
       (SELECT count(*) FROM posts p
        WHERE p.channel_id = r.channel_id AND p.status = 'published'
          AND p.created_at > now() - interval '7 days'),
       (SELECT coalesce(sum(d.delta), 0) FROM channel_follower_days d
        WHERE d.channel_id = r.channel_id AND d.day > (now() AT TIME ZONE 'UTC')::date - 7),
       now()
FROM recent r JOIN channels c USING (channel_id)
ON CONFLICT (channel_id) DO UPDATE
SET posts_7d = excluded.posts_7d, followers_7d_change = excluded.followers_7d_change,
    updated_at = now()
WHERE (s.posts_7d, s.followers_7d_change) IS DISTINCT FROM
      (excluded.posts_7d, excluded.followers_7d_change)
"""


class StatsRefresher(Periodic):
    name = "directory stats refresh"

    def __init__(self, pool: asyncpg.Pool, interval_s: float) -> None:
        super().__init__(interval_s)
        self.pool = pool

    async def tick(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(REFRESH_SQL)
