"""Fan-out write benchmark: `feed_items` rows/s of the fan-out service's own statement for
one post, against a server-side `INSERT` of the same rows into the same partitioned table,
measured in the same run on a throwaway database with the real schema.

The measuring is `bench.scaling_fanout.measure_size` (one definition of the subject and its
baselines): the fan-out statement (`write_feed_items`, set-based `INSERT … SELECT` over the
follows index), the baseline (`INSERT INTO feed_items … SELECT … FROM generate_series`,
the same rows with no follower lookup and no ON CONFLICT), and `COPY` of the same rows
(built before the timer) as a client-side reference. Medians of several committed runs.

Usage: python -m bench.fanout_write [--sizes 10000,100000,300000]
Target (DESIGN.md): ≥ 80 % of the server-side INSERT; 10 k followers in < 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import harness
from bench.scaling_fanout import measure_size, seed_channel
from shared.db.migrate import migrate
from shared.settings import HeraldSettings


def path_of(size: int) -> str:
    return f"fan-out write, {size:,} followers"


async def main(sizes: list[int], quick: bool = False) -> dict[int, list[harness.Result]]:
    """Per size: the fan-out statement, the server-side INSERT and COPY (in that order)."""
    base = HeraldSettings().database_url
    database = f"herald_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = urlunsplit(urlsplit(base)._replace(path=f"/{database}"))
    measured: dict[int, list[harness.Result]] = {}
    try:
        conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
        try:
            await migrate(conn)
            today = datetime.now(UTC).date()
            await conn.execute("SELECT herald_ensure_day_partitions('feed_items', $1, $1)", today)
            channels = {size: await seed_channel(conn, size) for size in sizes}
            await conn.execute("VACUUM ANALYZE")
            for size in sizes:
                results = await measure_size(conn, channels[size], size, quick, path_of(size))
                measured[size] = results
                print(
                    f"{size:,} followers, p50: "
                    + "; ".join(f"{r.label} {r.latency_ms['p50']:.1f} ms" for r in results)
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
    measured = await main(sizes, quick)
    records: list[harness.Record] = [r for results in measured.values() for r in results]
    for r in records:
        assert isinstance(r, harness.Result)
        r.x = None  # one comparison per size here, not a curve
    fanout, server_side = measured[10_000][0], measured[10_000][1]
    return [
        *records,
        harness.ratio(fanout, server_side, "rate", ">=", 0.8),
        harness.absolute(fanout, "p50", "<=", 100, "ms", note="10 k followers in < 100 ms"),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,300000")
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")]))
