"""SQL of the operators' view of reports: open reports grouped by target, and resolving a
target (migration 1200).

The publisher reads the feed's `reports` and `report_evidence` and writes only
`report_resolutions`. A report (evidence row) is open while no resolution of its target
has `resolved_at` at or after its `filed_at` (`copied_at`); closed rows are hidden here at
once and deleted by the feed or retention. Resolving holds the target's advisory lock
(`report_target_lock`, which filing holds too), so the count it records is exactly the
reports it closes.

Nothing here reads `reporter_tag`: no answer can name or link a reporter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from shared.db.timing import timed

# The nil UUID orders a channel target (no post) before its posts' targets in keyset
# pagination; it is never a real post id (those are UUIDv7).
NIL = UUID(int=0)
# Newest notes shown per target: what operators read to decide, bounded.
NOTES_MAX = 10

_OPEN = """
SELECT r.channel_id, r.post_id, r.reason, r.note, r.filed_at
FROM reports r
WHERE NOT EXISTS (SELECT 1 FROM report_resolutions s
                  WHERE s.channel_id = r.channel_id AND s.post_id IS NOT DISTINCT FROM r.post_id
                    AND s.resolved_at >= r.filed_at)
"""

# Open targets oldest first (the longest waiting on top), keyset on (first_at, channel,
# post). The reports table holds open reports only (closed ones leave within a retention
# interval), so grouping it whole per page stays small.
LIST_OPEN = f"""
WITH open AS MATERIALIZED ({_OPEN}),
by_reason AS (
    SELECT channel_id, post_id, reason, count(*) AS n,
           min(filed_at) AS first_at, max(filed_at) AS last_at
    FROM open GROUP BY channel_id, post_id, reason
),
targets AS (
    SELECT channel_id, post_id, sum(n)::bigint AS count,
           jsonb_object_agg(reason, n) AS reasons,
           min(first_at) AS first_at, max(last_at) AS last_at
    FROM by_reason GROUP BY channel_id, post_id
)
SELECT t.*,
       ARRAY(SELECT o.note FROM open o
             WHERE o.channel_id = t.channel_id AND o.post_id IS NOT DISTINCT FROM t.post_id
               AND o.note IS NOT NULL
             ORDER BY o.filed_at DESC LIMIT {NOTES_MAX}) AS notes,
       e.body AS evidence_body, e.copied_at AS evidence_copied_at,
       e.expires_at AS evidence_expires_at
FROM targets t
LEFT JOIN report_evidence e
       ON e.post_id = t.post_id AND e.channel_id = t.channel_id AND e.expires_at > now()
      AND NOT EXISTS (SELECT 1 FROM report_resolutions s
                      WHERE s.channel_id = e.channel_id AND s.post_id = e.post_id
                        AND s.resolved_at >= e.copied_at)
WHERE ($1::timestamptz IS NULL
       OR (t.first_at, t.channel_id, COALESCE(t.post_id, '{NIL}'::uuid)) > ($1, $2, $3))
ORDER BY t.first_at, t.channel_id, COALESCE(t.post_id, '{NIL}'::uuid)
LIMIT $4
"""


@dataclass(frozen=True)
class Resolved:
    count: int
    resolved_at: datetime | None  # None: there was nothing open to resolve


@timed("publisher", "list_open_reports")
async def list_open(
    pool: asyncpg.Pool, after: tuple[datetime, UUID, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Open targets after the keyset `after` (first_at, channel_id, post_id or NIL)."""
    first_at, channel_id, post_id = after if after is not None else (None, None, None)
    rows: list[asyncpg.Record] = await pool.fetch(LIST_OPEN, first_at, channel_id, post_id, limit)
    return rows


@timed("publisher", "resolve_reports")
async def resolve(
    pool: asyncpg.Pool, channel_id: UUID, post_id: UUID | None, resolution: str
) -> Resolved:
    """Close every open report on the target and record the decision with their count.
    Nothing open: nothing recorded (`count` 0), so a repeated resolve is harmless."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT report_target_lock($1, $2)", channel_id, post_id)
        count = await conn.fetchval(
            f"SELECT count(*) FROM ({_OPEN}) o WHERE o.channel_id = $1 "
            "AND o.post_id IS NOT DISTINCT FROM $2",
            channel_id,
            post_id,
        )
        if not count:
            return Resolved(count=0, resolved_at=None)
        resolved_at: datetime = await conn.fetchval(
            """
            INSERT INTO report_resolutions
                (resolution_id, channel_id, post_id, resolution, count, resolved_at)
            VALUES ($1, $2, $3, $4, $5, clock_timestamp())
            RETURNING resolved_at
            """,
            uuid4(),
            channel_id,
            post_id,
            resolution,
            count,
        )
    return Resolved(count=int(count), resolved_at=resolved_at)
