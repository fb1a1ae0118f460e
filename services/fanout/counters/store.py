"""SQL of the counters path: move `counted_*` to the current choice, upsert the deltas.

Each function is one statement over the batch's touched keys (arrays unnested in
Postgres) and runs in the caller's transaction. The move is what makes a replay
harmless: a row whose counted value already equals its current value is not touched,
so it contributes no delta. The old counted value is read `FOR UPDATE` in the same
statement; fan-out is the only writer of `counted_*`, so it cannot change underneath.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

REACTIONS_SQL = """
WITH touched AS (
    SELECT * FROM unnest($1::uuid[], $2::text[]) AS t(post_id, account_id)
), old AS (
    SELECT r.post_id, r.account_id, r.counted_emoji
    FROM reactions r JOIN touched t USING (post_id, account_id)
    WHERE r.counted_emoji IS DISTINCT FROM r.emoji
    FOR UPDATE OF r
), moved AS (
    UPDATE reactions r SET counted_emoji = r.emoji
    FROM old WHERE r.post_id = old.post_id AND r.account_id = old.account_id
    RETURNING r.post_id, r.channel_id, old.counted_emoji AS was, r.emoji AS now
), deltas AS (
    SELECT post_id, channel_id, was AS key, -1 AS d FROM moved WHERE was IS NOT NULL
    UNION ALL
    SELECT post_id, channel_id, now, 1 FROM moved WHERE now IS NOT NULL
), counted AS (
    INSERT INTO post_counters AS pc (post_id, kind, key, channel_id, count)
    SELECT post_id, 'reaction', key, channel_id, sum(d) FROM deltas
    GROUP BY post_id, key, channel_id HAVING sum(d) <> 0
    ON CONFLICT (post_id, kind, key) DO UPDATE SET count = pc.count + excluded.count
)
SELECT post_id FROM moved
"""

VOTES_SQL = """
WITH touched AS (
    SELECT * FROM unnest($1::uuid[], $2::text[]) AS t(post_id, account_id)
), old AS (
    SELECT v.post_id, v.account_id, v.counted_options
    FROM poll_votes v JOIN touched t USING (post_id, account_id)
    WHERE v.counted_options IS DISTINCT FROM v.options
    FOR UPDATE OF v
), moved AS (
    UPDATE poll_votes v SET counted_options = v.options
    FROM old WHERE v.post_id = old.post_id AND v.account_id = old.account_id
    RETURNING v.post_id, v.channel_id, old.counted_options AS was, v.options AS now
), deltas AS (
    SELECT post_id, channel_id, o::text AS key, -1 AS d
    FROM moved, unnest(coalesce(was, '{}')) AS o
    UNION ALL
    SELECT post_id, channel_id, o::text, 1
    FROM moved, unnest(coalesce(now, '{}')) AS o
), counted AS (
    INSERT INTO post_counters AS pc (post_id, kind, key, channel_id, count)
    SELECT post_id, 'vote', key, channel_id, sum(d) FROM deltas
    GROUP BY post_id, key, channel_id HAVING sum(d) <> 0
    ON CONFLICT (post_id, kind, key) DO UPDATE SET count = pc.count + excluded.count
)
SELECT post_id FROM moved
"""

FOLLOWS_SQL = """
WITH touched AS (
    SELECT * FROM unnest($1::text[], $2::uuid[]) AS t(account_id, channel_id)
), old AS (
    SELECT f.account_id, f.channel_id, f.counted_active
    FROM follows f JOIN touched t USING (account_id, channel_id)
    JOIN channels c ON c.channel_id = f.channel_id
    WHERE f.counted_active IS DISTINCT FROM f.active
    FOR UPDATE OF f
), moved AS (
    UPDATE follows f SET counted_active = f.active
    FROM old WHERE f.account_id = old.account_id AND f.channel_id = old.channel_id
    RETURNING f.channel_id, CASE WHEN f.active THEN 1 ELSE -1 END AS d
), per_channel AS (
    SELECT channel_id, sum(d)::bigint AS delta FROM moved GROUP BY channel_id
), stats AS (
    INSERT INTO channel_stats AS s (channel_id, followers)
    SELECT channel_id, delta FROM per_channel WHERE delta <> 0
    ON CONFLICT (channel_id) DO UPDATE
    SET followers = s.followers + excluded.followers, updated_at = now()
), days AS (
    INSERT INTO channel_follower_days AS d (channel_id, day, delta)
    SELECT channel_id, (now() AT TIME ZONE 'UTC')::date, delta FROM per_channel
    WHERE delta <> 0
    ON CONFLICT (channel_id, day) DO UPDATE SET delta = d.delta + excluded.delta
)
SELECT channel_id, delta FROM per_channel
"""


async def count_reactions(conn: asyncpg.Connection, keys: Sequence[tuple[UUID, str]]) -> list[UUID]:
    """Count the touched (post, account) reactions; returns the post of every moved row."""
    if not keys:
        return []
    rows = await conn.fetch(REACTIONS_SQL, [k[0] for k in keys], [k[1] for k in keys])
    # A cleared reaction is dropped once counted (the feed re-creates it on a new choice).
    await conn.execute(
        """DELETE FROM reactions r USING unnest($1::uuid[], $2::text[]) AS t(post_id, account_id)
           WHERE r.post_id = t.post_id AND r.account_id = t.account_id
             AND r.emoji IS NULL AND r.counted_emoji IS NULL""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return [r["post_id"] for r in rows]


async def count_votes(conn: asyncpg.Connection, keys: Sequence[tuple[UUID, str]]) -> list[UUID]:
    if not keys:
        return []
    rows = await conn.fetch(VOTES_SQL, [k[0] for k in keys], [k[1] for k in keys])
    await conn.execute(
        """DELETE FROM poll_votes v USING unnest($1::uuid[], $2::text[]) AS t(post_id, account_id)
           WHERE v.post_id = t.post_id AND v.account_id = t.account_id
             AND v.options IS NULL AND v.counted_options IS NULL""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return [r["post_id"] for r in rows]


async def count_views(conn: asyncpg.Connection, views: Sequence[tuple[UUID, UUID, str]]) -> None:
    """Add (post, channel, account) views to each post's HyperLogLog sketch, one sketch
    per post per batch (adding an account twice changes nothing: replays are harmless)."""
    if not views:
        return
    await conn.execute(
        """INSERT INTO post_views AS pv (post_id, channel_id, sketch)
           SELECT post_id, channel_id, hll_add_agg(hll_hash_text(account_id))
           FROM unnest($1::uuid[], $2::uuid[], $3::text[]) AS t(post_id, channel_id, account_id)
           GROUP BY post_id, channel_id
           ON CONFLICT (post_id) DO UPDATE SET sketch = hll_union(pv.sketch, excluded.sketch)""",
        [v[0] for v in views],
        [v[1] for v in views],
        [v[2] for v in views],
    )


async def count_follows(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, UUID]]
) -> dict[UUID, int]:
    """Count touched follows into channel_stats.followers and today's follower delta;
    drop unfollowed rows once counted. Returns the net change per channel."""
    if not keys:
        return {}
    rows = await conn.fetch(FOLLOWS_SQL, [k[0] for k in keys], [k[1] for k in keys])
    await conn.execute(
        """DELETE FROM follows f USING unnest($1::text[], $2::uuid[]) AS t(account_id, channel_id)
           WHERE f.account_id = t.account_id AND f.channel_id = t.channel_id
             AND NOT f.active AND NOT f.counted_active""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {r["channel_id"]: r["delta"] for r in rows}
