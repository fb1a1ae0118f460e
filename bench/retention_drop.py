"""Expiring a day of posts: partition DROP (retention's path) against a DELETE baseline.

Creates a throw-away database on the local Postgres and fills `--repeat` old day
partitions of `posts` with N rows each (the real schema and indexes, spread over 1,000
channels). Then, for each partition, on the very same rows:
- DELETE: one `DELETE FROM posts` of that day (the cheapest possible row-by-row expiry:
  no batching, no vacuum counted), rolled back so the day is still there: an aborted
  DELETE writes the same WAL records as a committed one, only its last record (abort
  instead of commit) differs;
- DROP: `drop_partition` exactly as a retention run does it (history_trimmed scan, DETACH
  … CONCURRENTLY, DROP TABLE).

Like with like: both are measured the same way, the same number of times, and compared
median to median. Each starts right after a `CHECKPOINT`, the state of a day written a
month ago (its first change to every page after a checkpoint logs the whole page), so
checkpoint timing does not move the baseline. WAL is each operation's own: `EXPLAIN
(ANALYZE, WAL)` cannot wrap DETACH or DROP, and the LSN distance around them counts what
every other database of the shared cluster wrote meanwhile, so the WAL records of the
window are read back with `pg_walinspect` (contrib, Postgres 15+, created in the throw-away
database) and only those of this database are summed: records whose blocks belong to it,
and the records (commit, abort, lock) of the transactions that wrote them. For the
DELETE, the statement's own `EXPLAIN (ANALYZE, WAL)` figure is recorded beside it as a
cross-check. Targets (DESIGN.md): ≤ 1 s whatever the size (every DROP), ≤ 1 % of the
DELETE's WAL.

Usage: python -m bench.retention_drop [--rows 1000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import harness
from services.retention.partitions import DayPartition, drop_partition
from shared.db.migrate import migrate

DEFAULT_URL = "postgresql://herald@127.0.0.1:15432/herald"
# bench.run's budgets for this module: filling the day partitions (300 k posts each, 1 M
# in the full run) takes most of them on the shared 2 cores.
QUICK_BUDGET_S = 80.0
FULL_BUDGET_S = 360.0
CHANNELS = 1000

FILL = """
INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body, published_at,
                   changed_at, expires_at, fanned_out)
SELECT md5('channel' || (i % $3))::uuid, md5($4 || i)::uuid, t, i / $3 + 1, 'admin-1',
       jsonb_build_object('type', 'text', 'text', repeat('news of the day ', 6)), t, t,
       t + interval '30 days', i % 10 <> 0
FROM generate_series(1, $2) AS i,
     LATERAL (SELECT $1::timestamptz + (i * interval '86399 seconds') / $2 AS t) AS x
"""


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


# The WAL one database wrote between two LSNs: the records touching its blocks, and the
# records (commit, standby lock) of the transactions that wrote those. Record lengths are
# what `EXPLAIN (ANALYZE, WAL)` counts as WAL bytes (full-page images included).
OWN_WAL = """
WITH r AS (
    SELECT xid::text AS xid, record_length, block_ref
    FROM pg_get_wal_records_info($1::text::pg_lsn, $2::text::pg_lsn)
), ours AS (
    SELECT DISTINCT xid FROM r WHERE block_ref LIKE $3 AND xid <> '0'
)
SELECT coalesce(sum(record_length), 0)::bigint AS bytes, count(*) AS records
FROM r WHERE block_ref LIKE $3 OR xid IN (SELECT xid FROM ours)
"""


class Window:
    """An LSN window around one operation on this database, after a CHECKPOINT."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.start = ""
        self.end = ""

    async def open(self) -> None:
        await self.conn.execute("CHECKPOINT")
        self.start = str(await self.conn.fetchval("SELECT pg_current_wal_insert_lsn()::text"))

    async def close(self) -> None:
        # walinspect reads only WAL already flushed, and an abort record is not flushed
        # when written: wait (bounded) for the WAL writer to pass the window's end.
        self.end = str(await self.conn.fetchval("SELECT pg_current_wal_insert_lsn()::text"))
        deadline = time.monotonic() + 10.0
        while not await self.conn.fetchval(
            "SELECT pg_current_wal_flush_lsn() >= $1::text::pg_lsn", self.end
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"WAL not flushed up to {self.end}")
            await asyncio.sleep(0.05)

    async def own_bytes(self) -> int:
        oid = await self.conn.fetchval(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        )
        row = await self.conn.fetchrow(OWN_WAL, self.start, self.end, f"%/{oid}/%")
        assert row is not None
        return int(row["bytes"])


def _start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


async def _fill(conn: asyncpg.Connection, day: date, rows: int) -> None:
    await conn.execute("SELECT herald_ensure_day_partitions('posts', $1, $1)", day)
    started = time.perf_counter()
    await conn.execute(FILL, _start(day), rows, CHANNELS, str(day))
    print(f"filled posts_p{day:%Y%m%d}: {rows:,} rows in {time.perf_counter() - started:.1f} s")


@dataclass
class Measured:
    seconds: float
    wal_bytes: int  # this database's own WAL records in the window
    explain_wal_bytes: int | None = None  # DELETE only: the statement's EXPLAIN figure
    rows: int = 0


async def _measure_drop(pool: asyncpg.Pool, conn: asyncpg.Connection, day: date) -> Measured:
    partition = DayPartition("posts", f"posts_p{day:%Y%m%d}", day, True, False)
    window = Window(conn)
    await window.open()
    started = time.perf_counter()
    await drop_partition(pool, partition, detach_timeout_s=120)
    elapsed = time.perf_counter() - started
    await window.close()
    return Measured(elapsed, await window.own_bytes())


async def _measure_delete(conn: asyncpg.Connection, day: date) -> Measured:
    window = Window(conn)
    await window.open()
    started = time.perf_counter()
    transaction = conn.transaction()
    await transaction.start()
    try:
        plan = await conn.fetchval(
            "EXPLAIN (ANALYZE, WAL, FORMAT JSON) DELETE FROM posts "
            "WHERE created_at >= $1 AND created_at < $2",
            _start(day),
            _start(day + timedelta(days=1)),
        )
    finally:
        # Rolled back: the same rows are then dropped, a comparison on identical data.
        await transaction.rollback()
    elapsed = time.perf_counter() - started
    await window.close()
    top = json.loads(plan)[0]["Plan"]
    deleted = sum(int(p.get("Actual Rows", 0)) for p in top.get("Plans", []))
    return Measured(elapsed, await window.own_bytes(), int(top.get("WAL Bytes", 0)), deleted)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


async def bench(rows: int, repeat: int) -> dict[str, list[Measured]]:
    """`repeat` days of `rows` posts, each deleted (rolled back) then dropped."""
    admin_url = os.environ.get("HERALD_DATABASE_URL", DEFAULT_URL)
    database = f"herald_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{database}"')
    pool = await asyncpg.create_pool(
        _with_database(admin_url, database), min_size=2, max_size=4, command_timeout=600
    )
    measured: dict[str, list[Measured]] = {"drop": [], "delete": []}
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            today = datetime.now(UTC).date()
            days = [today - timedelta(days=40 + n) for n in range(repeat)]
            for day in days:
                await _fill(conn, day, rows)
            await conn.execute("VACUUM ANALYZE posts")
            size = await conn.fetchval(
                "SELECT pg_total_relation_size($1)", f"posts_p{days[0]:%Y%m%d}"
            )
            print(f"one day partition with its indexes: {size / 2**20:.0f} MiB")
            for day in days:
                measured["delete"].append(await _measure_delete(conn, day))
                measured["drop"].append(await _measure_drop(pool, conn, day))
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()

    print(f"rows per day: {rows:,}")
    for name, runs in measured.items():
        for n, m in enumerate(runs, 1):
            explain = f", EXPLAIN {m.explain_wal_bytes:,} B" if m.explain_wal_bytes else ""
            print(
                f"{name.upper():<6} #{n}: {m.seconds * 1000:9.1f} ms  "
                f"WAL {m.wal_bytes:>13,} B{explain}"
            )
    drop_wal = _median([m.wal_bytes for m in measured["drop"]])
    delete_wal = _median([m.wal_bytes for m in measured["delete"]])
    print(f"median WAL DROP/DELETE: {drop_wal / delete_wal:.4%} (target <= 1 %)")
    return measured


async def benchmark(ctx: harness.Context, quick: bool) -> list[harness.Record]:
    """`bench.run` entry point (bench.harness convention): DROP against DELETE of one day
    as harness records (medians), with the DESIGN.md checks."""
    # A day of 300 k posts is the smallest where the 1 % ratio is a statement about size
    # rather than about the DROP's fixed catalog work.
    rows = 300_000 if quick else 1_000_000
    repeat = 2
    measured = await bench(rows, repeat)
    path = f"retention: expire one day ({rows:,} posts)"
    drops, deletes = measured["drop"], measured["delete"]
    drop = harness.Result(
        bench="",
        path=path,
        label="DROP partition",
        rate=None,
        values={
            "seconds": _median([m.seconds for m in drops]),
            "max_seconds": max(m.seconds for m in drops),
            "wal_bytes": _median([m.wal_bytes for m in drops]),
        },
        samples=len(drops),
        params={"wal": "this database's records in the window (pg_walinspect), median"},
    )
    delete = harness.Result(
        bench="",
        path=path,
        label="DELETE",
        baseline=True,
        rate=None,
        values={
            "seconds": _median([m.seconds for m in deletes]),
            "wal_bytes": _median([m.wal_bytes for m in deletes]),
            "explain_wal_bytes": _median([m.explain_wal_bytes or 0 for m in deletes]),
            "rows_deleted": _median([m.rows for m in deletes]),
        },
        samples=len(deletes),
        params={"wal": "this database's records in the window (pg_walinspect), median"},
    )
    return [
        drop,
        delete,
        harness.absolute(drop, "max_seconds", "<=", 1.0, "s", note="every DROP, whatever the size"),
        harness.ratio(drop, delete, "wal_bytes", "<=", 0.01, note="median vs median, own WAL"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per day partition")
    parser.add_argument("--repeat", type=int, default=2, help="drops and deletes, each")
    args = parser.parse_args()
    asyncio.run(bench(args.rows, args.repeat))


if __name__ == "__main__":
    main()
