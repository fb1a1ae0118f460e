"""Day partitions of `posts`, `feed_items` and `content_keys`: created ahead, dropped whole
once expired.

`posts` and `feed_items` partitions are named `<table>_pYYYYMMDD` and hold the rows
created on [day, day + 1) UTC (the SQL function `herald_ensure_day_partitions` of the
first migration). `content_keys` partitions are named `content_keys_YYYYMMDD` and hold the
keys of content expiring on that UTC day (`herald_ensure_content_key_partitions`). A run:

- creates the partitions for today and `partitions_ahead_days` ahead, so fan-out never
  waits on DDL on its write path; key partitions up to the farthest expiry day of content
  published then (today + 31 + `partitions_ahead_days`), so the publisher rarely does;
- drops every `content_keys` partition whose day is over (`now >= expires_on + 1 day`):
  all content expiring that day has expired, whatever its channel's retention — a 1-day
  channel's post published on day D expires on D + 1 and its key goes at D + 2 00:00 UTC.
  With the key gone every copy of that content on the posts topic, the DLQ and their
  backups is unreadable;
- drops every posts/feed_items partition whose upper bound is at least the longest
  retention (30 days) behind `now`: every row in it has expired, whatever its channel's
  retention. Before a
  `posts` partition goes, the channels that lose posts are recorded for history_trimmed
  (trims.py; an index probe per channel, not a scan). The rows of expired posts in
  unpartitioned tables (reactions, poll_votes, post_counters, post_views) then go by
  post_id range: post ids
  are UUIDv7 of created_at, so "created before the cutoff" is a leading range of each
  table's primary key, deleted in bounded batches.

Expiry is a DROP, never a DELETE: no dead tuples, no vacuum, a few hundred bytes of WAL
whatever the partition size. Safe against concurrent fan-out inserts: `DETACH PARTITION
… CONCURRENTLY` takes only SHARE UPDATE EXCLUSIVE on the parent (inserts and reads go on)
and must run outside a transaction block; the detached table is then dropped, which
locks only itself. A detach interrupted half-way (kill, timeout) leaves the partition
"detach pending"; the next run finishes it with `DETACH … FINALIZE`. A detached table
not yet dropped is found by its name and dropped. Every step is restartable.

Why not pg_partman: the one thing it would bring (create ahead, drop behind) is a loop
over a SQL function Herald already has, while it would add an extension to install in
every Postgres (Debian package, custom image for Docker, Citus interplay), a background
worker or cron call to run, and its own config table to migrate. It cannot do the work
that must happen before a drop here (rows in unpartitioned tables keyed by post id, the
history_trimmed events), and its retention drop takes the parent's ACCESS EXCLUSIVE lock
unless configured otherwise. Plain SQL keeps the contract visible in one module.

Key partitions go the same way as the others (DETACH … CONCURRENTLY, then DROP), though
they are small (one ~150-byte row per post version): what matters is not the size but the
lock. A plain DROP of an attached partition takes ACCESS EXCLUSIVE on `content_keys`
itself, which queues behind every running transaction that touched the table and blocks
every publish (the publisher inserts a key before each produce) and every fan-out key read
behind it; the concurrent detach never blocks them.

Every dropped partition is recorded in the deletion ledger (ledger.py): the detached
table's rows are counted per channel and day, and added to the ledger, in the transaction
that drops it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg

from services.retention.ledger import add_partition
from services.retention.posts import uuid7_floor
from services.retention.trims import record_trims
from shared.db.timing import timed
from shared.metrics.retention import PARTITIONS_CREATED, PARTITIONS_DROPPED

log = logging.getLogger(__name__)

# Herald's promise: no channel keeps content longer than this (channels.retention_days).
LONGEST_RETENTION_DAYS = 30
PARTITIONED_TABLES = ("posts", "feed_items")
KEYS_TABLE = "content_keys"
# Content published on day D expires by D + LONGEST_RETENTION_DAYS (+1 for a UTC day
# boundary crossed by the expiry time): the key partitions the publisher may need.
KEY_DAYS_AHEAD = LONGEST_RETENTION_DAYS + 1
_NAME = re.compile(r"^(?:(posts|feed_items)_p|(content_keys)_)(\d{8})$")


@dataclass(frozen=True)
class DayPartition:
    table: str
    name: str
    day: date
    attached: bool
    detach_pending: bool

    @property
    def upper_bound(self) -> datetime:
        return datetime.combine(self.day + timedelta(days=1), datetime.min.time(), UTC)


def parse_partition_name(name: str) -> tuple[str, date] | None:
    """`posts_p20260101` → ("posts", 2026-01-01); None for any other name."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    table = match.group(1) or match.group(2)
    try:
        return table, datetime.strptime(match.group(3), "%Y%m%d").date()
    except ValueError:
        return None


def is_expired(partition: DayPartition, now: datetime) -> bool:
    """True when every row the partition can hold has expired: for content keys, once their
    expiry day is over; for posts and feed rows, once past the longest retention."""
    if partition.table == KEYS_TABLE:
        return partition.upper_bound <= now
    return partition.upper_bound <= now - timedelta(days=LONGEST_RETENTION_DAYS)


async def list_partitions(conn: asyncpg.Connection) -> list[DayPartition]:
    """Day partitions of the current schema, attached or detached, oldest first."""
    rows = await conn.fetch(
        r"""SELECT c.relname, i.inhrelid IS NOT NULL AS attached,
                   coalesce(i.inhdetachpending, false) AS detach_pending
            FROM pg_class c
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
              AND c.relname ~ '^((posts|feed_items)_p|content_keys_)[0-9]{8}$'"""
    )
    found: list[DayPartition] = []
    for row in rows:
        parsed = parse_partition_name(row["relname"])
        if parsed is not None:
            found.append(
                DayPartition(
                    parsed[0], row["relname"], parsed[1], row["attached"], row["detach_pending"]
                )
            )
    return sorted(found, key=lambda p: (p.day, p.table))


@timed("retention", "create_partitions")
async def create_ahead(pool: asyncpg.Pool, now: datetime, days_ahead: int) -> int:
    today = now.astimezone(UTC).date()
    created = 0
    for table in PARTITIONED_TABLES:
        count = int(
            await pool.fetchval(
                "SELECT herald_ensure_day_partitions($1, $2, $3)",
                table,
                today,
                today + timedelta(days=days_ahead),
            )
        )
        PARTITIONS_CREATED.labels(table=table).inc(count)
        created += count
    count = int(
        await pool.fetchval(
            "SELECT herald_ensure_content_key_partitions($1, $2)",
            today,
            today + timedelta(days=KEY_DAYS_AHEAD + days_ahead),
        )
    )
    PARTITIONS_CREATED.labels(table=KEYS_TABLE).inc(count)
    return created + count


# Per channel, its highest seq in one partition: a loose index scan of the partition's
# (channel_id, seq DESC) index, one probe per channel — never a scan of its rows, so the
# cost follows the number of channels that posted that day, not the number of posts.
_CHANNEL_MAX_SEQ = """
WITH RECURSIVE ch AS (
    (SELECT channel_id, seq FROM "{name}" ORDER BY channel_id, seq DESC LIMIT 1)
    UNION ALL
    SELECT n.channel_id, n.seq FROM ch CROSS JOIN LATERAL (
        SELECT channel_id, seq FROM "{name}" WHERE channel_id > ch.channel_id
        ORDER BY channel_id, seq DESC LIMIT 1) n
)
SELECT channel_id, seq FROM ch
"""


async def _record_partition_trims(pool: asyncpg.Pool, name: str) -> None:
    """Record a history_trimmed owed to each channel with posts in this partition (read
    only; repeated after a kill, it records the same values again)."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_CHANNEL_MAX_SEQ.format(name=name))
        await record_trims(conn, [r["channel_id"] for r in rows], [r["seq"] for r in rows])


# Unpartitioned tables keyed by post_id first: their rows of expired posts go by range.
POST_KEYED_TABLES: tuple[tuple[str, str], ...] = (
    ("reactions", "post_id, account_id"),
    ("poll_votes", "post_id, account_id"),
    ("post_counters", "post_id, kind, key"),
    ("post_views", "post_id"),
)


async def sweep_post_rows_before(pool: asyncpg.Pool, cutoff: datetime, batch: int) -> int:
    """Delete the reactions, votes, counters and views of every post created before
    `cutoff` (all expired: no channel keeps more than the longest retention).

    Post ids are UUIDv7 of their created_at, so these are a leading range of each table's
    primary key: the cost is the rows deleted, never the posts that had none. This also
    clears rows written for a post after it had gone (a late counter upsert).
    """
    floor = uuid7_floor(cutoff)
    total = 0
    for table, key in POST_KEYED_TABLES:
        cols = [k.strip() for k in key.split(",")]
        sql = (
            f"DELETE FROM {table} t USING (SELECT {key} FROM {table} "
            f"WHERE post_id < $1 ORDER BY post_id LIMIT $2) d "
            f"WHERE ({', '.join('t.' + c for c in cols)}) = ({', '.join('d.' + c for c in cols)})"
        )
        while True:
            status = await pool.execute(sql, floor, batch)
            deleted = int(status.split()[-1])
            total += deleted
            if deleted == 0:
                break
    return total


async def drop_partition(
    pool: asyncpg.Pool, partition: DayPartition, detach_timeout_s: float
) -> None:
    name, table = partition.name, partition.table
    if partition.attached and not partition.detach_pending:
        if table == "posts":
            await _record_partition_trims(pool, name)
        async with pool.acquire() as conn:
            # Outside any transaction block, as CONCURRENTLY requires.
            await conn.execute(
                f'ALTER TABLE "{table}" DETACH PARTITION "{name}" CONCURRENTLY',
                timeout=detach_timeout_s,
            )
    elif partition.detach_pending:
        async with pool.acquire() as conn:
            await conn.execute(
                f'ALTER TABLE "{table}" DETACH PARTITION "{name}" FINALIZE',
                timeout=detach_timeout_s,
            )
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f'"{name}"'):
            await add_partition(conn, table, name, partition.day + _ledger_offset(table))
        await conn.execute(f'DROP TABLE IF EXISTS "{name}"', timeout=detach_timeout_s)
    PARTITIONS_DROPPED.labels(table=table).inc()
    log.info("partition dropped", extra={"partition": name})


def _ledger_offset(table: str) -> timedelta:
    """From a partition's day to the expiry day its rows are recorded under in the ledger
    (posts rows carry their own expiry; see ledger.partition_counts_sql)."""
    return timedelta(0) if table == KEYS_TABLE else timedelta(days=LONGEST_RETENTION_DAYS)


@timed("retention", "drop_partitions")
async def drop_expired(
    pool: asyncpg.Pool, now: datetime, batch: int, detach_timeout_s: float
) -> list[str]:
    """Drop every expired day partition, then the rows keyed by the ids of posts older than
    the longest retention; return the partitions' names."""
    async with pool.acquire() as conn:
        partitions = await list_partitions(conn)
    dropped: list[str] = []
    for partition in partitions:
        if is_expired(partition, now):
            await drop_partition(pool, partition, detach_timeout_s)
            dropped.append(partition.name)
    await sweep_post_rows_before(pool, now - timedelta(days=LONGEST_RETENTION_DAYS), batch)
    return dropped


async def oldest_partition_days(conn: asyncpg.Connection) -> dict[str, date]:
    """Per table, the day of the oldest attached partition that holds any row."""
    oldest: dict[str, date] = {}
    for partition in await list_partitions(conn):
        # Key partitions are named by expiry day, not age: not content age.
        if not partition.attached or partition.table in oldest or partition.table == KEYS_TABLE:
            continue
        if await conn.fetchval(f'SELECT EXISTS (SELECT 1 FROM "{partition.name}")'):
            oldest[partition.table] = partition.day
    return oldest
