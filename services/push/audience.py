"""Who gets a post by push, in SQL: the planner's count and the sender's pages.

A post reaches every push subscription of an account that actively follows the channel
and has not muted it; an alert also reaches followers who muted the channel but kept
`alerts` on. Subscriptions past their `expiration_time` are left out.

The audience is cut into `shards` slices by `SHARD_OF_ACCOUNT`, a stable hash of the
account id computed by Postgres: the planner's count and the sender's selection use the
very same expression, so every subscription falls in exactly one shard, whichever process
sends it. All of an account's subscriptions land in one shard.

Both queries filter on `follows.channel_id` and join on `account_id` (the distribution key
of `follows` and `push_subscriptions` in a future Citus cluster).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from shared.events.push import MAX_SHARDS

# hashtext() is a signed int4; shifted into [0, 2^32) before the modulo (abs() of its
# minimum would overflow). $2 is the shard count.
SHARD_OF_ACCOUNT = "((hashtext(f.account_id)::bigint + 2147483648) % $2)"

# Who follows in a way that a post reaches, as the followers' rows `f`: a normal post
# only unmuted followers (the partial index follows_channel_idx covers exactly them); an
# alert also the muted ones who kept alerts on (follows_channel_alerts_idx, migration
# 1000). The alert audience is the UNION ALL of the two disjoint sets rather than one
# `NOT muted OR alerts` condition: Postgres matches neither partial index to that OR and
# read every follower row of the channel from the heap instead, where each branch here is
# an index-only scan of its own index. Two texts rather than a boolean parameter, so the
# planner sees the conditions it can match to those indexes.
_FOLLOWERS = {
    False: """(
        SELECT account_id FROM follows
        WHERE channel_id = $1 AND active AND NOT muted
    ) f""",
    True: """(
        SELECT account_id FROM follows
        WHERE channel_id = $1 AND active AND NOT muted
        UNION ALL
        SELECT account_id FROM follows
        WHERE channel_id = $1 AND active AND muted AND alerts
    ) f""",
}


def _audience_from(alert: bool) -> str:
    return f"""
    FROM {_FOLLOWERS[alert]}
    JOIN push_subscriptions s ON s.account_id = f.account_id
    WHERE (s.expiration_time IS NULL OR s.expiration_time > now())
"""


def count_sql(alert: bool) -> str:
    return f"SELECT count(*) {_audience_from(alert)}"


def shard_page_sql(alert: bool) -> str:
    """Keyset pages of one shard, ordered by subscription id: $2 the shard count, $3 the
    shard, $4 the last id of the previous page (the nil UUID for the first), $5 the size."""
    return f"""
    SELECT s.subscription_id, s.endpoint, s.p256dh, s.auth
    {_audience_from(alert)}
      AND {SHARD_OF_ACCOUNT} = $3
      AND s.subscription_id > $4
    ORDER BY s.subscription_id
    LIMIT $5
"""


# Prepared statements switch to a generic plan after five runs; for these the generic
# plan was measured 30x slower (0.8 s instead of 25 ms per shard of a 100k-follower
# channel), so each query runs with a plan made for its own parameters.
CUSTOM_PLAN = "SET LOCAL plan_cache_mode = force_custom_plan"

NIL_UUID = UUID(int=0)


def shard_count(audience: int, target_per_shard: int) -> int:
    """Shards for `audience` subscriptions: the smallest power of two that leaves about
    `target_per_shard` per shard (hashing spreads them unevenly, so the target sits well
    below the page a resend may repeat), at most `MAX_SHARDS`; 0 for no audience."""
    if audience <= 0:
        return 0
    shards = 1
    while shards * target_per_shard < audience and shards < MAX_SHARDS:
        shards *= 2
    return shards


async def count_audience(pool: asyncpg.Pool, channel_id: UUID, alert: bool) -> int:
    """Subscriptions a post of `channel_id` reaches now (`alert`: also muted-with-alerts)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(CUSTOM_PLAN)
        count = await conn.fetchval(count_sql(alert), channel_id)
    return int(count or 0)


async def shard_page(
    pool: asyncpg.Pool,
    channel_id: UUID,
    alert: bool,
    *,
    shard: int,
    shards: int,
    after: UUID,
    limit: int,
) -> list[Any]:
    """Up to `limit` subscriptions of shard `shard` of `shards`, after subscription `after`."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(CUSTOM_PLAN)
        rows: list[Any] = await conn.fetch(
            shard_page_sql(alert), channel_id, shards, shard, after, limit
        )
    return rows
