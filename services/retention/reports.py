"""Reports that operators resolved, and evidence past its post's expiry, deleted.

The feed writes `reports` and `report_evidence`; the publisher records each resolution in
`report_resolutions` (migration 1200). A resolution closes its target's reports filed,
and evidence copied, up to its `resolved_at`; operators no longer see them from that
moment, and this job deletes them — with the reporter tags — on the next run, so "deleted
when resolved" holds within one retention interval. Evidence also goes once its post
would have expired, whether or not the reports are resolved (nothing past `expires_at`
is served: the operator list stops showing it at that time already). Resolutions,
counts only, go after 180 days, the audit period.

Bounded batches, each its own statement; a repeated batch deletes nothing more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from services.retention.batches import drain
from shared.db.timing import timed

log = logging.getLogger(__name__)

RESOLUTION_TTL = timedelta(days=180)

DELETE_CLOSED_REPORTS = """
DELETE FROM reports WHERE report_id = ANY(ARRAY(
    SELECT r.report_id FROM reports r
    WHERE EXISTS (SELECT 1 FROM report_resolutions s
                  WHERE s.channel_id = r.channel_id AND s.post_id IS NOT DISTINCT FROM r.post_id
                    AND s.resolved_at >= r.filed_at)
    LIMIT $1))
"""

DELETE_CLOSED_OR_EXPIRED_EVIDENCE = """
DELETE FROM report_evidence WHERE post_id = ANY(ARRAY(
    SELECT e.post_id FROM report_evidence e
    WHERE e.expires_at <= $1
       OR EXISTS (SELECT 1 FROM report_resolutions s
                  WHERE s.channel_id = e.channel_id AND s.post_id = e.post_id
                    AND s.resolved_at >= e.copied_at)
    LIMIT $2))
"""

DELETE_OLD_RESOLUTIONS = """
DELETE FROM report_resolutions WHERE resolution_id = ANY(ARRAY(
    SELECT resolution_id FROM report_resolutions WHERE resolved_at < $1 LIMIT $2))
"""


@timed("retention", "purge_reports")
async def purge_reports(pool: asyncpg.Pool, now: datetime, batch: int) -> int:
    """Delete resolved reports, resolved or expired evidence and old resolutions; return
    how many rows went."""
    reports = await drain(pool, DELETE_CLOSED_REPORTS, batch=batch)
    evidence = await drain(pool, DELETE_CLOSED_OR_EXPIRED_EVIDENCE, now, batch=batch)
    resolutions = await drain(pool, DELETE_OLD_RESOLUTIONS, now - RESOLUTION_TTL, batch=batch)
    if reports or evidence or resolutions:
        log.info(
            "reports purged",
            extra={"reports": reports, "evidence": evidence, "resolutions": resolutions},
        )
    return reports + evidence + resolutions
