"""SQL of filing a report: the target's visibility, the atomic one-open-report-per-account
rule, and the evidence copy of a reported post (tables of migration 1200).

The feed writes `reports` and `report_evidence`; the publisher writes
`report_resolutions`. A resolution closes its target's rows filed (copied) up to its
`resolved_at`. Filing holds the target's advisory lock (`report_target_lock`, which the
publisher's resolve holds too) to its commit: it deletes the target's closed rows first,
so the unique `reporter_tag` index only ever meets open reports, then inserts.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg

from services.feed.queries.audience import readable
from shared.db.timing import timed

# A channel (and a post of it) may be reported by whoever may read it (`audience`): active,
# and for an invite-only channel only its followers and admins (anyone else gets the 404 of
# every read path, so a report cannot probe whether it exists).
_READABLE_CHANNEL = f"""
SELECT true FROM channels c
WHERE c.channel_id = $1 AND c.status = 'active' AND {readable("c", "$2")}
"""

_VISIBLE_POST = """
SELECT p.body, p.expires_at FROM posts p
WHERE p.channel_id = $1 AND p.post_id = $2 AND p.status = 'published' AND p.expires_at > now()
"""

_PURGE_CLOSED_REPORTS = """
DELETE FROM reports r
WHERE r.channel_id = $1 AND r.post_id IS NOT DISTINCT FROM $2
  AND EXISTS (SELECT 1 FROM report_resolutions s
              WHERE s.channel_id = r.channel_id AND s.post_id IS NOT DISTINCT FROM r.post_id
                AND s.resolved_at >= r.filed_at)
"""

_PURGE_CLOSED_EVIDENCE = """
DELETE FROM report_evidence e
WHERE e.post_id = $2 AND e.channel_id = $1
  AND EXISTS (SELECT 1 FROM report_resolutions s
              WHERE s.channel_id = e.channel_id AND s.post_id = e.post_id
                AND s.resolved_at >= e.copied_at)
"""


class TargetNotFound(Exception):
    """No such channel or post, or not one the caller may read."""


class AlreadyReported(Exception):
    """The caller has an open report on this target."""


@timed("feed", "file_report")
async def file_report(
    conn: asyncpg.Connection,
    *,
    account_id: str,
    channel_id: UUID,
    post_id: UUID | None,
    reason: str,
    note: str | None,
    reporter_tag: str,
) -> UUID:
    """Store a report and return its id; copy a reported post's body into its evidence row
    when it has none open. Raises `TargetNotFound` or `AlreadyReported`, changing nothing.

    `account_id` only decides visibility (invite channels); it is never written.
    """
    async with conn.transaction():
        if not await conn.fetchval(_READABLE_CHANNEL, channel_id, account_id):
            raise TargetNotFound
        post = None
        if post_id is not None:
            post = await conn.fetchrow(_VISIBLE_POST, channel_id, post_id)
            if post is None:
                raise TargetNotFound
        await conn.execute("SELECT report_target_lock($1, $2)", channel_id, post_id)
        await conn.execute(_PURGE_CLOSED_REPORTS, channel_id, post_id)
        report_id = await conn.fetchval(
            """
            INSERT INTO reports (report_id, channel_id, post_id, reason, note, reporter_tag,
                                 filed_at)
            VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())
            ON CONFLICT (reporter_tag) DO NOTHING
            RETURNING report_id
            """,
            uuid4(),
            channel_id,
            post_id,
            reason,
            note,
            reporter_tag,
        )
        if report_id is None:
            raise AlreadyReported
        if post is not None:
            await conn.execute(_PURGE_CLOSED_EVIDENCE, channel_id, post_id)
            await conn.execute(
                """
                INSERT INTO report_evidence (post_id, channel_id, body, copied_at, expires_at)
                VALUES ($1, $2, $3, clock_timestamp(), $4)
                ON CONFLICT (post_id) DO NOTHING
                """,
                post_id,
                channel_id,
                post["body"],
                post["expires_at"],
            )
    found: UUID = report_id
    return found
