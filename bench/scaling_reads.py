"""Scaling: feed read latency against the number of channels an account follows.

Seeds 1,000 channels with POSTS visible posts each, one in ten of them read-time merged
(`fanned_out = false`, the large-channel case) and the others fanned out (their feed_items
rows written for the readers), and three readers following the first 10, 100 and 1,000
channels with varied read markers. For each reader it times the feed service's own
statements (imported from services.feed.queries, not copied): `TIMELINE` (first page of
20) and `UPDATES` (first page of 100), sequentially on one connection, bounded by count
and time. The curve shows what a follow costs a reader; the check is that the timeline's
first page at 1,000 follows stays within 10x of the one at 10 follows (the page is
bounded, only the per-follow lateral merge grows).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.harness import Check, Context, Record, Result, latency_summary, ratio, timed
from services.feed.queries.follows import NEVER, UPDATES
from services.feed.queries.posts import TIMELINE

CHANNELS = 1_000
FOLLOWS = (10, 100, 1_000)
MERGED_EVERY = 10  # one channel in ten is above the fan-out threshold
PATH = "feed read latency vs follows"
GENERIC_TIMELINE = "timeline, generic plan"
GENERIC_UPDATES = "updates, generic plan"

SEED = """
WITH ch AS (
    INSERT INTO channels (channel_id, handle, name, category, country, language,
                          last_seq, last_post_at)
    SELECT md5('ch' || i)::uuid, 'reads_' || i, 'Channel ' || i, 'news', 'FR', 'fr',
           $1, now() - i * interval '1 minute'
    FROM generate_series(1, $2::int) i
    RETURNING channel_id, last_post_at, handle
)
INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body, expires_at,
                   fanned_out)
SELECT ch.channel_id, gen_random_uuid(), ch.last_post_at - ($1 - s) * interval '7 minutes',
       s, 'admin', jsonb_build_object('type', 'text', 'text', 'post number ' || s),
       now() + interval '29 days',
       split_part(ch.handle, '_', 2)::int % $3 <> 0
FROM ch, generate_series(1, $1::int) s
"""

FOLLOW = """
INSERT INTO follows (account_id, channel_id, followed_at, last_read_seq, counted_active)
SELECT $1, md5('ch' || i)::uuid, now() - interval '3 days', (i * 7) % $3, true
FROM generate_series(1, $2::int) i
"""

# What fan-out would have written for the fanned-out posts of the followed channels.
FAN_OUT = """
INSERT INTO feed_items (account_id, created_at, channel_id, post_id, seq)
SELECT f.account_id, p.created_at, p.channel_id, p.post_id, p.seq
FROM follows f JOIN posts p ON p.channel_id = f.channel_id AND p.fanned_out
WHERE f.account_id = $1
"""


async def seed(conn: asyncpg.Connection, posts: int) -> None:
    # The posts span under two days; migrations created the partitions of the retention
    # window (as a real deployment has them: their count matters to planning), and these
    # calls create nothing more unless the run straddles midnight.
    today = datetime.now(UTC).date()
    for table in ("posts", "feed_items"):
        await conn.execute(
            "SELECT herald_ensure_day_partitions($1, $2, $3)",
            table,
            today - timedelta(days=2),
            today,
        )
    await conn.execute(SEED, posts, CHANNELS, MERGED_EVERY)
    for k in FOLLOWS:
        await conn.execute(FOLLOW, f"reader-{k}", k, posts)
        await conn.execute(FAN_OUT, f"reader-{k}")
    await conn.execute("VACUUM ANALYZE")


async def benchmark(ctx: Context, quick: bool) -> list[Record]:
    posts = 10 if quick else 30
    stack = await ctx.stack()
    conn = await asyncpg.connect(stack.database_url, server_settings={"timezone": "UTC"})
    # The same statements on a connection that keeps one generic plan per prepared
    # statement instead of re-planning over every day partition at each call.
    generic = await asyncpg.connect(
        stack.database_url,
        server_settings={"timezone": "UTC", "plan_cache_mode": "force_generic_plan"},
    )
    results: list[Result] = []
    try:
        await seed(conn, posts)
        ctx.log(f"seeded {CHANNELS:,} channels x {posts} posts, readers of {FOLLOWS}")
        statements: dict[str, Callable[[str], Awaitable[list[asyncpg.Record]]]] = {
            "timeline (first page of 20)": lambda a: conn.fetch(TIMELINE, a, None, None, 20),
            "updates (first page of 100)": lambda a: conn.fetch(UPDATES, a, None, None, NEVER, 100),
            GENERIC_TIMELINE: lambda a: generic.fetch(TIMELINE, a, None, None, 20),
            GENERIC_UPDATES: lambda a: generic.fetch(UPDATES, a, None, None, NEVER, 100),
        }
        for label, query in statements.items():
            for k in FOLLOWS:
                reader = f"reader-{k}"
                rows = await query(reader)
                took = await timed(
                    functools.partial(query, reader),
                    times=20 if quick else 100,
                    max_s=4 if quick else 15,
                    warmup=2,
                )
                result = Result(
                    bench="",
                    path=PATH,
                    label=label,
                    rate=len(took) / sum(took),
                    unit="queries/s",
                    latency_ms=latency_summary(took),
                    x=k,
                    x_label="channels followed",
                    samples=len(took),
                    values={"rows": len(rows)},
                    params={"plot": "p50", "posts_per_channel": posts},
                )
                results.append(result)
                ctx.log(f"{label}, {k} follows: p50 {result.latency_ms['p50']:.2f} ms")
    finally:
        await conn.close()
        await generic.close()
    return [*results, *checks(results)]


def checks(results: list[Result]) -> list[Check]:
    out: list[Check] = []
    curves = {
        label: sorted((r for r in results if r.label == label), key=lambda r: r.x or 0)
        for label in dict.fromkeys(r.label for r in results)
    }
    for label, curve in curves.items():
        if label in (GENERIC_TIMELINE, GENERIC_UPDATES):
            continue
        check = ratio(
            curve[-1],
            curve[0],
            "p50",
            "<=",
            10.0,
            note="informative: no DESIGN target; a bounded page should not scale with follows",
        )
        check.what = f"{label}: p50 at {curve[-1].x:,.0f} / at {curve[0].x:,.0f} follows"
        out.append(check)
    for label, plain in (
        (GENERIC_TIMELINE, "timeline (first page of 20)"),
        (GENERIC_UPDATES, "updates (first page of 100)"),
    ):
        if label in curves and plain in curves:
            speed = ratio(
                curves[label][0],
                curves[plain][0],
                "p50",
                "<=",
                1.0,
                note="informative: plan_cache_mode=force_generic_plan",
            )
            speed.what = f"{label} / default plans, p50 at {curves[label][0].x:,.0f} follows"
            out.append(speed)
    return out
