"""SQL of the deletion reports: reads of `deletion_ledger` (written by fan-out for deletes
for everyone and by retention for expiry; see migration 0900). Counts and times only."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

import asyncpg

from shared.db.timing import timed

_FIELDS = "rows_dropped, partitions_dropped, media_removed, keys_destroyed, at"


async def _ledger_row(
    pool: asyncpg.Pool, channel_id: UUID, column: Literal["post_id", "day"], value: UUID | date
) -> asyncpg.Record | None:
    """The ledger row of the channel whose `column` is `value`; None when none."""
    row: asyncpg.Record | None = await pool.fetchrow(
        f"SELECT {_FIELDS} FROM deletion_ledger WHERE channel_id = $1 AND {column} = $2",
        channel_id,
        value,
    )
    return row


@timed("publisher", "deletion_report")
async def for_post(pool: asyncpg.Pool, channel_id: UUID, post_id: UUID) -> asyncpg.Record | None:
    """What deleting this post for everyone destroyed; None when no delete is recorded."""
    return await _ledger_row(pool, channel_id, "post_id", post_id)


@timed("publisher", "deletion_report")
async def for_day(pool: asyncpg.Pool, channel_id: UUID, day: date) -> asyncpg.Record | None:
    """What expired on this UTC day for the channel; None when nothing is recorded."""
    return await _ledger_row(pool, channel_id, "day", day)


@timed("publisher", "deletion_report")
async def for_channel(pool: asyncpg.Pool, channel_id: UUID) -> asyncpg.Record | None:
    """Every recorded deletion of the channel added up (`at`: the latest); None when none."""
    row: asyncpg.Record = await pool.fetchrow(
        """SELECT coalesce(sum(rows_dropped), 0)::bigint AS rows_dropped,
                  coalesce(sum(partitions_dropped), 0)::bigint AS partitions_dropped,
                  coalesce(sum(media_removed), 0)::bigint AS media_removed,
                  coalesce(sum(keys_destroyed), 0)::bigint AS keys_destroyed,
                  max(at) AS at
           FROM deletion_ledger WHERE channel_id = $1""",
        channel_id,
    )
    return None if row["at"] is None else row
