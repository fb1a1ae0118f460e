"""The audit log's expiry: entries older than 180 days are deleted.

`audit_log` (publisher-written, migration 1100) is append-only for everyone else; this is
the only delete. In bounded batches, each its own statement (a BRIN index on `at` finds
the old rows); a repeated or interrupted run just finds fewer rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from services.retention.batches import drain
from shared.db.timing import timed

log = logging.getLogger(__name__)

# How long an audit entry stays readable (DESIGN.md: the audit log keeps 180 days).
AUDIT_TTL = timedelta(days=180)

DELETE_OLD_ENTRIES = """
DELETE FROM audit_log WHERE audit_id IN (
    SELECT audit_id FROM audit_log WHERE at < $1 LIMIT $2
)
"""


@timed("retention", "expire_audit_log")
async def expire_audit_log(pool: asyncpg.Pool, now: datetime, batch: int) -> int:
    """Delete audit entries older than `AUDIT_TTL` at `now`; returns how many."""
    total = await drain(pool, DELETE_OLD_ENTRIES, now - AUDIT_TTL, batch=batch)
    if total:
        log.info("audit entries expired", extra={"entries": total})
    return total
