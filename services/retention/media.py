"""Media rows and files that no visible post needs any longer.

A media row goes when
- `expires_at <= now`: the latest-expiring post that used it has expired ("expired");
- it was never used by a post within 24 hours of its upload ("unused");
- its channel is deleted ("channel_deleted").
The avatar of a channel that is not deleted is never removed.

Files are content-addressed (`storage_key`, `thumbnail_key`), so several media rows may
share one file: a file is removed only when no remaining media row uses its key. The
rows are deleted and the keys left without a row are queued in
`retention_media_garbage`, in one transaction per batch; files are removed from the
store afterwards and their queue rows cleared. A kill between the two leaves the key
queued, and the next run removes it. A key that a new upload of the same bytes uses
again before its file is removed is dropped from the queue and its file kept.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from services.retention.batches import in_transaction
from shared.db.timing import timed
from shared.media import MediaStore
from shared.metrics.retention import MEDIA_EXPIRED, MEDIA_FILES_DELETED

log = logging.getLogger(__name__)

# Uploads that no post used within this long are abandoned.
UNUSED_UPLOAD_TTL = timedelta(hours=24)

_NOT_AN_AVATAR = """NOT EXISTS (
    SELECT 1 FROM channels a
    WHERE a.avatar_media_id = m.media_id AND a.status <> 'deleted')"""

# reason → (selection of doomed media ids, what its parameters are besides the limit).
REASONS = ("expired", "unused", "channel_deleted")


def selection(reason: str, now: datetime, limit: int) -> tuple[str, list[object]]:
    if reason == "expired":
        sql = f"""SELECT m.media_id FROM media m
                  WHERE m.expires_at <= $1 AND {_NOT_AN_AVATAR} LIMIT $2"""
        return sql, [now, limit]
    if reason == "unused":
        sql = f"""SELECT m.media_id FROM media m
                  WHERE m.first_used_at IS NULL AND m.created_at < $1 AND {_NOT_AN_AVATAR}
                  LIMIT $2"""
        return sql, [now - UNUSED_UPLOAD_TTL, limit]
    if reason == "channel_deleted":
        sql = """SELECT m.media_id FROM channels c JOIN media m ON m.channel_id = c.channel_id
                 WHERE c.status = 'deleted' LIMIT $1"""
        return sql, [limit]
    raise ValueError(reason)


# Is the key in `k.key` used by any media row? (Both columns are indexed.)
_KEY_USED = """(EXISTS (SELECT 1 FROM media m WHERE m.storage_key = k.key)
    OR EXISTS (SELECT 1 FROM media m WHERE m.thumbnail_key = k.key))"""


async def _delete_rows(conn: asyncpg.Connection, reason: str, now: datetime, limit: int) -> int:
    sql, args = selection(reason, now, limit)
    ids = [r["media_id"] for r in await conn.fetch(sql, *args)]
    if not ids:
        return 0
    gone = await conn.fetch(
        """DELETE FROM media WHERE media_id = ANY($1::uuid[])
           RETURNING storage_key, thumbnail_key""",
        ids,
    )
    keys = {r["storage_key"] for r in gone} | {
        r["thumbnail_key"] for r in gone if r["thumbnail_key"] is not None
    }
    # A separate statement: it must see the deletes above.
    await conn.execute(
        f"""INSERT INTO retention_media_garbage (storage_key)
            SELECT k.key FROM unnest($1::text[]) AS k(key) WHERE NOT {_KEY_USED}
            ON CONFLICT (storage_key) DO NOTHING""",
        sorted(keys),
    )
    return len(gone)


async def expire_media_rows(pool: asyncpg.Pool, now: datetime, batch: int) -> int:
    """Delete every doomed media row, queueing unshared files; return rows deleted."""
    total = 0
    for reason in REASONS:

        async def one_batch(conn: asyncpg.Connection, reason: str = reason) -> int:
            return await _delete_rows(conn, reason, now, batch)

        while deleted := await in_transaction(pool, one_batch):
            MEDIA_EXPIRED.labels(reason=reason).inc(deleted)
            total += deleted
    return total


async def collect_garbage(pool: asyncpg.Pool, store: MediaStore, batch: int) -> int:
    """Remove the queued files no media row uses; return files removed."""
    removed = 0
    while True:
        # Reused again since queued: keep the file, forget the queue entry.
        await pool.execute(
            "DELETE FROM retention_media_garbage g WHERE "
            + _KEY_USED.replace("k.key", "g.storage_key")
        )
        keys = [
            r["storage_key"]
            for r in await pool.fetch(
                "SELECT storage_key FROM retention_media_garbage ORDER BY storage_key LIMIT $1",
                batch,
            )
        ]
        if not keys:
            return removed
        for key in keys:
            try:
                if await store.delete(key):
                    removed += 1
                    MEDIA_FILES_DELETED.inc()
            except ValueError:
                log.warning("not a media storage key, dropped from the queue")
        await pool.execute(
            "DELETE FROM retention_media_garbage WHERE storage_key = ANY($1::text[])", keys
        )


@timed("retention", "expire_media")
async def expire_media(pool: asyncpg.Pool, store: MediaStore, now: datetime, batch: int) -> int:
    rows = await expire_media_rows(pool, now, batch)
    files = await collect_garbage(pool, store, batch)
    if rows or files:
        log.info("media expired", extra={"rows": rows, "files": files})
    return rows
