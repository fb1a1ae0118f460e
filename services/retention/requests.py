"""The publisher's bookkeeping rows, removed once they have served their purpose.

- `post_requests` (Idempotency-Key → post_id): kept 24 hours, the window the API
  promises; a retry after that publishes a new post.
- `accepted_posts` (status of every accepted post, metadata only): past the post's
  `expires_at` the post is gone for everyone, so is its status.

Both go in bounded batches, each its own transaction; a repeated batch is a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from services.retention.batches import drain
from shared.db.timing import timed

log = logging.getLogger(__name__)

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)

DELETE_OLD_REQUESTS = """
DELETE FROM post_requests r USING (
    SELECT channel_id, idempotency_key FROM post_requests WHERE created_at < $1 LIMIT $2
) d
WHERE (r.channel_id, r.idempotency_key) = (d.channel_id, d.idempotency_key)
"""

DELETE_EXPIRED_ACCEPTED = """
DELETE FROM accepted_posts a USING (
    SELECT channel_id, post_id FROM accepted_posts WHERE expires_at <= $1 LIMIT $2
) d
WHERE (a.channel_id, a.post_id) = (d.channel_id, d.post_id)
"""


@timed("retention", "expire_publisher_bookkeeping")
async def expire_publisher_bookkeeping(pool: asyncpg.Pool, now: datetime, batch: int) -> int:
    """Delete idempotency keys past their 24 h and statuses of expired posts; return rows."""
    keys = await drain(pool, DELETE_OLD_REQUESTS, now - IDEMPOTENCY_KEY_TTL, batch=batch)
    statuses = await drain(pool, DELETE_EXPIRED_ACCEPTED, now, batch=batch)
    if keys or statuses:
        log.info("publisher bookkeeping expired", extra={"keys": keys, "statuses": statuses})
    return keys + statuses
