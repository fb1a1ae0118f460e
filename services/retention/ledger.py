"""Retention's entries in the deletion ledger: what each expiry destroyed, per channel and day.

The ledger (`deletion_ledger`, migration 0900) holds, per channel and expiry day (the UTC
date on which the content expired), the content rows, partitions, media rows and content
keys destroyed, added up over runs. Every entry is written in the transaction of the
delete it describes, so a kill never leaves a delete unrecorded or a count doubled:

- row deletes (shorter-retention posts, expired media): `add_expiry` in the batch's
  transaction;
- a dropped day partition: `add_partition` counts the detached table's rows per channel
  and day (one grouped query) and adds them to the ledger in the transaction that drops
  the table. Once detached, nothing writes to the table any more, so the count is exact,
  and a kill before that transaction commits leaves the table to the next run, which
  counts it then.

The ledger's own rows go after `LEDGER_TTL`, the period of the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

import asyncpg

from services.retention.batches import drain

# Reports stay answerable this long after the deletion they describe.
LEDGER_TTL = timedelta(days=180)


@dataclass(frozen=True)
class ExpiryEntry:
    channel_id: UUID
    day: date
    rows_dropped: int = 0
    media_removed: int = 0


async def add_expiry(conn: asyncpg.Connection, entries: Iterable[ExpiryEntry]) -> None:
    """Add row and media counts to the channels' day entries (caller's transaction)."""
    totals: dict[tuple[UUID, date], list[int]] = {}
    for e in entries:
        t = totals.setdefault((e.channel_id, e.day), [0, 0])
        t[0] += e.rows_dropped
        t[1] += e.media_removed
    if not totals:
        return
    keys = sorted(totals)
    await conn.execute(
        """INSERT INTO deletion_ledger (channel_id, day, rows_dropped, media_removed)
           SELECT * FROM unnest($1::uuid[], $2::date[], $3::bigint[], $4::bigint[])
           ON CONFLICT (channel_id, day) WHERE day IS NOT NULL DO UPDATE
               SET rows_dropped = deletion_ledger.rows_dropped + excluded.rows_dropped,
                   media_removed = deletion_ledger.media_removed + excluded.media_removed,
                   at = now()""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        [totals[k][0] for k in keys],
        [totals[k][1] for k in keys],
    )


def partition_counts_sql(table: str, name: str, day: date) -> tuple[str, list[object]]:
    """The grouped count of one day partition: (channel_id, day, rows, keys) per channel.

    `posts` rows count under their own expiry day; `feed_items` rows (no expiry column)
    under the day their partition's posts expired (the partition's day + the longest
    retention: shorter-retention posts left earlier with their feed rows, see expiry.py);
    `content_keys` rows are keys, under the partition's expiry day. `table` and `name`
    come from the catalogue, never from input.
    """
    if table == "posts":
        return (
            f"""SELECT channel_id, (expires_at AT TIME ZONE 'UTC')::date AS day,
                       count(*) AS rows_dropped, 0::bigint AS keys_destroyed
                FROM "{name}" GROUP BY 1, 2""",
            [],
        )
    if table == "feed_items":
        return (
            f"""SELECT channel_id, $1::date AS day, count(*) AS rows_dropped,
                       0::bigint AS keys_destroyed
                FROM "{name}" GROUP BY 1""",
            [day],
        )
    if table == "content_keys":
        return (
            f"""SELECT channel_id, $1::date AS day, 0::bigint AS rows_dropped,
                       count(*) AS keys_destroyed
                FROM "{name}" GROUP BY 1""",
            [day],
        )
    raise ValueError(table)


async def add_partition(conn: asyncpg.Connection, table: str, name: str, day: date) -> None:
    """Add the rows of partition `name` (detached, about to be dropped) to the ledger, one
    more partition for each channel and day it held (caller's transaction: the one that
    drops it)."""
    sql, args = partition_counts_sql(table, name, day)
    await conn.execute(
        f"""INSERT INTO deletion_ledger
                (channel_id, day, rows_dropped, partitions_dropped, keys_destroyed)
            SELECT channel_id, day, rows_dropped, 1, keys_destroyed FROM ({sql}) c
            ON CONFLICT (channel_id, day) WHERE day IS NOT NULL DO UPDATE
                SET rows_dropped = deletion_ledger.rows_dropped + excluded.rows_dropped,
                    partitions_dropped = deletion_ledger.partitions_dropped + 1,
                    keys_destroyed = deletion_ledger.keys_destroyed + excluded.keys_destroyed,
                    at = now()""",
        *args,
    )


async def expire_ledger(pool: asyncpg.Pool, now: datetime, batch: int) -> int:
    """Delete ledger rows last touched more than LEDGER_TTL ago; return how many."""
    return await drain(
        pool,
        """DELETE FROM deletion_ledger WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM deletion_ledger WHERE at < $1 LIMIT $2))""",
        now - LEDGER_TTL,
        batch=batch,
    )
