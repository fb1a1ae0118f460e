"""Fan-out write benchmark: feed_items rows/s of the set-based `INSERT … SELECT` the
fan-out runs for one post, against a raw `COPY` of the same rows into an identical table,
measured in the same run on a throwaway database.

Usage: python -m bench.fanout_write [--sizes 10000,100000] [--repeat 3]
Target (DESIGN.md): ≥ 80 % of COPY; 10k followers in < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import harness
from shared.settings import HeraldSettings

SCHEMA = """
CREATE TABLE follows (
    account_id text NOT NULL, channel_id uuid NOT NULL, active boolean NOT NULL DEFAULT true,
    followed_at timestamptz NOT NULL DEFAULT now(), muted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account_id, channel_id));
CREATE INDEX follows_channel_idx ON follows (channel_id) INCLUDE (account_id, followed_at)
    WHERE active AND NOT muted;
CREATE TABLE feed_select (account_id text NOT NULL, created_at timestamptz NOT NULL,
    channel_id uuid NOT NULL, post_id uuid NOT NULL, seq bigint NOT NULL);
CREATE INDEX ON feed_select (account_id, created_at DESC, post_id DESC);
CREATE TABLE feed_copy (LIKE feed_select INCLUDING ALL);
"""

FANOUT_SQL = """
INSERT INTO feed_select (account_id, created_at, channel_id, post_id, seq)
SELECT f.account_id, $2, f.channel_id, $3, $4 FROM follows f
WHERE f.channel_id = $1 AND f.active AND NOT f.muted AND f.followed_at <= $2
"""


async def measure(conn: asyncpg.Connection, size: int, repeat: int) -> tuple[float, float]:
    channel_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO follows (account_id, channel_id, followed_at)"
        " SELECT 'acct-' || i, $1, now() - interval '1 day' FROM generate_series(1, $2) i",
        channel_id,
        size,
    )
    await conn.execute("VACUUM ANALYZE follows")
    accounts = [
        r["account_id"]
        for r in await conn.fetch(
            "SELECT account_id FROM follows WHERE channel_id = $1", channel_id
        )
    ]
    select_s: list[float] = []
    copy_s: list[float] = []
    for seq in range(1, repeat + 1):
        post_id, created_at = uuid.uuid4(), datetime.now(UTC)
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(FANOUT_SQL, channel_id, created_at, post_id, seq)
        select_s.append(time.perf_counter() - started)
        rows = [(a, created_at, channel_id, post_id, seq) for a in accounts]
        started = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table("feed_copy", records=rows)
        copy_s.append(time.perf_counter() - started)
    return statistics.median(select_s), statistics.median(copy_s)


async def main(sizes: list[int], repeat: int) -> list[tuple[int, float, float]]:
    base = HeraldSettings().database_url
    database = f"herald_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = urlunsplit(urlsplit(base)._replace(path=f"/{database}"))
    try:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(SCHEMA)
            print(
                f"{'followers':>10} {'insert-select ms':>17} {'copy ms':>9} "
                f"{'rows/s (select)':>16} {'ratio':>6}"
            )
            measured = []
            for size in sizes:
                sel, cop = await measure(conn, size, repeat)
                measured.append((size, sel, cop))
                print(
                    f"{size:>10} {sel * 1000:>17.1f} {cop * 1000:>9.1f} "
                    f"{size / sel:>16,.0f} {cop / sel:>6.2f}"
                )
        finally:
            await conn.close()
        return measured
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


async def benchmark(ctx: harness.Context, quick: bool) -> list[harness.Record]:
    """`bench.run` entry point (bench.harness convention): medians per size as harness
    records, with the DESIGN.md checks at 10 k followers."""
    sizes = [10_000] if quick else [10_000, 100_000, 300_000]
    records: list[harness.Record] = []
    for size, select_s, copy_s in await main(sizes, 3):
        for label, seconds, base in (("INSERT … SELECT", select_s, False), ("COPY", copy_s, True)):
            records.append(
                harness.Result(
                    bench="",
                    path=f"fan-out write, {size:,} followers",
                    label=label,
                    baseline=base,
                    rate=size / seconds,
                    unit="rows/s",
                    latency_ms={"p50": seconds * 1000},
                    samples=3,
                )
            )
    select, copy = records[0], records[1]
    assert isinstance(select, harness.Result) and isinstance(copy, harness.Result)
    return [
        *records,
        harness.ratio(select, copy, "rate", ">=", 0.8),
        harness.absolute(select, "p50", "<=", 100, "ms", note="10 k followers in < 100 ms"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.repeat))
