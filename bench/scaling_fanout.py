"""Scaling: fan-out write cost per post against follower count, beside a server-side
INSERT of the same rows, and the read cost of a read-time-merged channel against its
follower count.

Write side: for each size N (1 k, 10 k, 100 k, 1 M; quick: up to 100 k) a channel with N
active followers; one post is written to every follower with the fan-out service's own
statement (`services.fanout.posts.store.write_feed_items`, imported, not copied: the
set-based `INSERT INTO feed_items … SELECT … FROM follows`), beside the baseline DESIGN.md
names: a plain server-side `INSERT INTO feed_items … SELECT … FROM generate_series` of the
same N rows (the same account ids; no follower lookup, no conditions, no ON CONFLICT)
into the same partitioned table. `COPY` of the same rows (built in Python before any
timer) is measured too, as a client-side reference. Each run is one committed
transaction, the three interleaved in rotating order (`bench.harness.interleaved`);
`feed_items` is truncated between runs (untimed) so every run writes into the same state.
The plot marks the hybrid threshold (`FanoutSettings.write_max_followers`): above it
fan-out writes nothing and the cost is one posts row. Checks: the fan-out statement's
rows/s ≥ 80 % of the server-side INSERT's at the threshold; 10 k followers in < 100 ms.

Read side: each channel also has read-merge posts (`fanned_out = false`), and one of its
followers reads the timeline with the feed service's own `TIMELINE` statement: the latency
should stay flat whatever N (no O(followers) work at read time).
"""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.harness import (
    Check,
    Context,
    Record,
    Result,
    absolute,
    interleaved,
    latency_summary,
    ratio,
    timed,
)
from services.fanout.config import FanoutSettings
from services.fanout.posts.plan import NewPost
from services.fanout.posts.store import write_feed_items
from services.feed.queries.posts import TIMELINE

FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000, 100_000)
MERGE_POSTS = 20  # read-time-merged posts per channel
WRITE_PATH = "fan-out write cost per post vs followers"
READ_PATH = "timeline read of a read-merged channel vs its followers"


def repeats(n: int, quick: bool) -> int:
    """Runs per size: many where one run is milliseconds, one for a million."""
    if n >= 1_000_000:
        return 1
    if n >= 100_000:
        return 2 if quick else 3
    return 5 if quick else 9


async def seed_channel(conn: asyncpg.Connection, n: int) -> uuid.UUID:
    """A channel with n followers (ids `c<n>-a<i>`, followed two days ago) and
    MERGE_POSTS visible posts left for read-time merge."""
    channel_id = uuid.uuid4()
    await conn.execute(
        """INSERT INTO channels (channel_id, handle, name, category, country, language)
           VALUES ($1, $2, 'Scaling', 'news', 'FR', 'fr')""",
        channel_id,
        f"scale_{n}",
    )
    await conn.execute(
        """INSERT INTO follows (account_id, channel_id, followed_at, counted_active)
           SELECT 'c' || $2::int || '-a' || i, $1, now() - interval '2 days', true
           FROM generate_series(1, $2::int) i""",
        channel_id,
        n,
    )
    await conn.execute(
        """INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body,
                              expires_at, fanned_out)
           SELECT $1, gen_random_uuid(), now() - s * interval '1 minute', $2 - s + 1, 'admin',
                  jsonb_build_object('type', 'text', 'text', 'post ' || s),
                  now() + interval '29 days', false
           FROM generate_series(1, $2::int) s""",
        channel_id,
        MERGE_POSTS,
    )
    return channel_id


# The baseline: the same rows as the fan-out statement writes for a channel seeded by
# `seed_channel` (accounts `c<n>-a<i>`), produced by the server without reading follows.
SERVER_SIDE_INSERT = """
INSERT INTO feed_items (account_id, created_at, channel_id, post_id, seq)
SELECT 'c' || $1::int || '-a' || i, $2, $3, $4, $5 FROM generate_series(1, $1::int) i
"""
FANOUT_LABEL = "INSERT … SELECT (fan-out's statement)"
SERVER_LABEL = "server-side INSERT (baseline)"
COPY_LABEL = "COPY (client-side reference)"


async def measure_size(
    conn: asyncpg.Connection, channel_id: uuid.UUID, n: int, quick: bool, path: str = WRITE_PATH
) -> list[Result]:
    """The fan-out statement, the server-side INSERT baseline and COPY, each writing one
    post to the n followers of `channel_id`, timed as committed transactions, interleaved."""
    now = datetime.now(UTC)
    seq = iter(range(1_000, 10_000_000))

    def post() -> NewPost:
        return NewPost(
            channel_id,
            uuid.uuid4(),
            now,
            now + timedelta(days=30),
            next(seq),
            "admin",
            {"type": "text", "text": "bench"},
            None,
        )

    async def insert_select() -> None:
        async with conn.transaction():
            written = await write_feed_items(conn, [post()])
        assert written == n, (written, n)

    async def server_side() -> None:
        p = post()
        async with conn.transaction():
            status = await conn.execute(
                SERVER_SIDE_INSERT, n, p.created_at, channel_id, p.post_id, p.seq
            )
        assert status == f"INSERT 0 {n}", status

    # Built before any timer: the same rows for every COPY run, since the table is
    # truncated between runs.
    copied = post()
    records = [
        (r["account_id"], copied.created_at, channel_id, copied.post_id, copied.seq)
        for r in await conn.fetch(
            "SELECT account_id FROM follows WHERE channel_id = $1 AND active AND NOT muted",
            channel_id,
        )
    ]
    assert len(records) == n, (len(records), n)

    async def copy() -> None:
        async with conn.transaction():
            await conn.copy_records_to_table(
                "feed_items",
                records=records,
                columns=["account_id", "created_at", "channel_id", "post_id", "seq"],
            )

    # Interleaved rounds, rotated: the shared machine's load moves all three alike.
    took = await interleaved(
        {FANOUT_LABEL: insert_select, SERVER_LABEL: server_side, COPY_LABEL: copy},
        times=repeats(n, quick),
        max_s=60,
        warmup=0 if n >= 100_000 else 1,
        between=lambda: conn.execute("TRUNCATE feed_items"),
    )
    results = []
    for label, write_s in took.items():
        median = statistics.median(write_s)
        results.append(
            Result(
                bench="",
                path=path,
                label=label,
                baseline=label != FANOUT_LABEL,
                rate=n / median,
                unit="rows/s",
                latency_ms=latency_summary(write_s),
                x=n,
                x_label="followers of the channel",
                samples=len(write_s),
                params={"plot": "p50"},
            )
        )
    return results


async def measure_read(conn: asyncpg.Connection, n: int, quick: bool) -> Result:
    reader = f"c{n}-a1"
    took = await timed(
        lambda: conn.fetch(TIMELINE, reader, None, None, 20),
        times=30 if quick else 100,
        max_s=5 if quick else 15,
        warmup=3,
    )
    return Result(
        bench="",
        path=READ_PATH,
        label="GET /v1/timeline statement (read-time merge)",
        rate=len(took) / sum(took),
        unit="queries/s",
        latency_ms=latency_summary(took),
        x=n,
        x_label="followers of the channel",
        samples=len(took),
        params={"plot": "p50"},
    )


async def benchmark(ctx: Context, quick: bool) -> list[Record]:
    threshold = FanoutSettings().write_max_followers
    stack = await ctx.stack()
    sizes = QUICK_SIZES if quick else FULL_SIZES
    conn = await asyncpg.connect(stack.database_url, server_settings={"timezone": "UTC"})
    records: list[Record] = []
    try:
        today = datetime.now(UTC).date()
        for table in ("posts", "feed_items"):
            await conn.execute("SELECT herald_ensure_day_partitions($1, $2, $2)", table, today)
        channels = {}
        for n in sizes:
            channels[n] = await seed_channel(conn, n)
            ctx.log(f"seeded a channel with {n:,} followers")
        await conn.execute("VACUUM ANALYZE")
        writes: dict[int, list[Result]] = {}
        for n in sizes:
            writes[n] = await measure_size(conn, channels[n], n, quick)
            records.extend(writes[n])
            ctx.log(
                f"{n:,}: " + ", ".join(f"{r.label} {r.latency_ms['p50']:.1f} ms" for r in writes[n])
            )
        for n in sizes:
            read = await measure_read(conn, n, quick)
            records.append(read)
            ctx.log(f"timeline read, {n:,} followers: p50 {read.latency_ms['p50']:.2f} ms")
    finally:
        await conn.close()
    for r in records:
        if isinstance(r, Result) and r.path == WRITE_PATH and not r.baseline:
            r.params.update(mark_x=threshold, mark_label=f"hybrid threshold {threshold:,}")
    records.extend(checks(writes, records, threshold))
    return records


def checks(writes: dict[int, list[Result]], records: list[Record], threshold: int) -> list[Check]:
    out: list[Check] = []
    at = max((n for n in writes if n <= threshold), default=min(writes))
    insert_select, server_side = writes[at][0], writes[at][1]
    out.append(
        ratio(
            insert_select,
            server_side,
            "rate",
            ">=",
            0.8,
            note=f"at {at:,} followers (the largest size fan-out writes)",
        )
    )
    if 10_000 in writes:
        out.append(
            absolute(
                writes[10_000][0], "p50", "<=", 100, "ms", note="10 k followers written in < 100 ms"
            )
        )
    reads = sorted(
        (r for r in records if isinstance(r, Result) and r.path == READ_PATH),
        key=lambda r: r.x or 0,
    )
    if len(reads) >= 2:
        flat = ratio(
            reads[-1], reads[0], "p50", "<=", 2.0, note="no O(followers) work at read time"
        )
        flat.what = f"timeline p50 at {reads[-1].x:,.0f} / at {reads[0].x:,.0f} followers"
        out.append(flat)
    return out
