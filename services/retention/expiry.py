"""Posts of channels with a retention shorter than the longest one, deleted once expired.

A post's `expires_at` (created_at + its channel's retention_days) is fixed when it is
written. Posts of 30-day channels leave with their day partition (partitions.py); posts
of channels keeping fewer days would wait up to 30 days for that, so they are deleted in
bounded batches as soon as `expires_at <= now`, each batch with its reactions, votes,
counters, views and feed rows, in its own transaction (posts.delete_posts), which also
records the rows removed per channel and expiry day in the deletion ledger. Their content
keys are not deleted row by row: the key partition of their expiry day is dropped once
that day is over (partitions.py).

Readers already hide anything past `expires_at`; this is about the data leaving storage.
"""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg

from services.retention.batches import in_transaction
from services.retention.partitions import LONGEST_RETENTION_DAYS
from services.retention.posts import delete_posts, refs
from shared.db.timing import timed
from shared.metrics.retention import POSTS_EXPIRED

log = logging.getLogger(__name__)

# Per channel, the expired posts are its lowest seqs: walk (channel_id, seq) upwards.
# The outer ORDER BY keeps a batch within a narrow created_at range (see posts.py).
SELECT_EXPIRED = """
SELECT p.channel_id, p.post_id, p.created_at, p.seq
FROM channels c
CROSS JOIN LATERAL (
    SELECT p.channel_id, p.post_id, p.created_at, p.seq
    FROM posts p
    WHERE p.channel_id = c.channel_id AND p.expires_at <= $1
    ORDER BY p.seq
    LIMIT $2
) p
WHERE c.retention_days < $3 AND c.status <> 'deleted'
ORDER BY p.created_at
LIMIT $2
"""


@timed("retention", "expire_posts")
async def expire_short_retention_posts(pool: asyncpg.Pool, now: datetime, batch_size: int) -> int:
    """Delete every expired post of a shorter-retention channel; return how many."""

    async def one_batch(conn: asyncpg.Connection) -> int:
        rows = await conn.fetch(SELECT_EXPIRED, now, batch_size, LONGEST_RETENTION_DAYS)
        return await delete_posts(conn, refs(rows), ledger=True)

    total = 0
    while deleted := await in_transaction(pool, one_batch):
        total += deleted
        POSTS_EXPIRED.labels(reason="expired").inc(deleted)
    if total:
        log.info("expired posts deleted", extra={"posts": total})
    return total
