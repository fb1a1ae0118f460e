"""Media rows and files that no visible post needs any longer.

A media row goes when
- `expires_at <= now`: the latest-expiring post that used it has expired ("expired");
- it was never used by a post within 24 hours of its upload ("unused");
- its channel is deleted ("channel_deleted").
Expired rows are recorded in the deletion ledger under their channel and expiry day, in the
transaction that deletes them (ledger.py).
The avatar of a channel that is not deleted is never removed.

The `media` table is the publisher's; retention, the only service that deletes content,
deletes the rows that expired and their files, and nothing else in it.

Rows: selected `FOR UPDATE SKIP LOCKED`, so a row the publisher is marking used for a new
post right now is skipped (this run or the next sees it used), and a row retention holds
cannot be marked: the publisher's claim then finds it gone and refuses the post.

Files are content-addressed (`storage_key`, `thumbnail_key`), so several media rows may
share one file: a file is removed only when no remaining media row uses its key. The
rows are deleted and the keys left without a row are queued in
`retention_media_garbage`, in one transaction per batch. Each queued key is then
collected in a transaction of its own that takes the content's lock
(`shared.media.content_lock`, which the publisher's upload takes too while it puts the
file and inserts its row), checks that no row uses the key, removes the file and
forgets the key: an upload of the same bytes either committed its row before the check
(the file is kept) or puts the file anew after it was removed. A kill before the commit
leaves the key queued, and the next run collects it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from services.retention.batches import in_transaction
from services.retention.ledger import ExpiryEntry, add_expiry
from shared.db.timing import timed
from shared.media import MediaStore
from shared.media.content_lock import lock_content
from shared.metrics.retention import MEDIA_EXPIRED, MEDIA_FILES_DELETED

log = logging.getLogger(__name__)

# Uploads that no post used within this long are abandoned.
UNUSED_UPLOAD_TTL = timedelta(hours=24)

_NOT_AN_AVATAR = """NOT EXISTS (
    SELECT 1 FROM channels a
    WHERE a.avatar_media_id = m.media_id AND a.status <> 'deleted')"""

# A row the publisher is claiming for a post right now (its UPDATE holds the row) is
# skipped; one selected here cannot be claimed until this transaction ends, and then the
# publisher finds it gone and refuses the post.
_LOCKED = "FOR UPDATE OF m SKIP LOCKED"

# reason → (selection of doomed media ids, what its parameters are besides the limit).
REASONS = ("expired", "unused", "channel_deleted")


def selection(reason: str, now: datetime, limit: int) -> tuple[str, list[object]]:
    if reason == "expired":
        sql = f"""SELECT m.media_id FROM media m
                  WHERE m.expires_at <= $1 AND {_NOT_AN_AVATAR} LIMIT $2 {_LOCKED}"""
        return sql, [now, limit]
    if reason == "unused":
        sql = f"""SELECT m.media_id FROM media m
                  WHERE m.first_used_at IS NULL AND m.created_at < $1 AND {_NOT_AN_AVATAR}
                  LIMIT $2 {_LOCKED}"""
        return sql, [now - UNUSED_UPLOAD_TTL, limit]
    if reason == "channel_deleted":
        sql = f"""SELECT m.media_id FROM channels c JOIN media m ON m.channel_id = c.channel_id
                 WHERE c.status = 'deleted' LIMIT $1 {_LOCKED}"""
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
           RETURNING storage_key, thumbnail_key, channel_id, expires_at""",
        ids,
    )
    if reason == "expired":
        await add_expiry(
            conn,
            (
                ExpiryEntry(
                    r["channel_id"], r["expires_at"].astimezone(UTC).date(), media_removed=1
                )
                for r in gone
            ),
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


async def claim_garbage(conn: asyncpg.Connection, key: str) -> bool:
    """Take the content's lock and tell whether no media row uses `key`. Call inside a
    transaction: until it ends no upload can link a row to the content, so the caller
    may remove the file when this is True."""
    await lock_content(conn, key)
    used: bool = await conn.fetchval(f"SELECT {_KEY_USED} FROM (SELECT $1::text AS key) k", key)
    return not used


async def forget_garbage(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("DELETE FROM retention_media_garbage WHERE storage_key = $1", key)


async def collect_key(pool: asyncpg.Pool, store: MediaStore, key: str) -> bool:
    """Remove the file of one queued key unless a row uses it again; True when a file
    was removed. The key leaves the queue either way."""
    async with pool.acquire() as conn, conn.transaction():
        removed = False
        if await claim_garbage(conn, key):
            try:
                removed = await store.delete(key)
            except ValueError:
                log.warning("not a media storage key, dropped from the queue")
        await forget_garbage(conn, key)
        return removed


async def collect_garbage(pool: asyncpg.Pool, store: MediaStore, batch: int) -> int:
    """Remove the queued files no media row uses; return files removed."""
    removed = 0
    while True:
        keys = [
            r["storage_key"]
            for r in await pool.fetch(
                "SELECT storage_key FROM retention_media_garbage ORDER BY storage_key LIMIT $1",
                batch,
            )
        ]
        if not keys:
            return removed
        # One short transaction per key: an upload waits for one file removal at most.
        for key in keys:
            if await collect_key(pool, store, key):
                removed += 1
                MEDIA_FILES_DELETED.inc()


@timed("retention", "expire_media")
async def expire_media(pool: asyncpg.Pool, store: MediaStore, now: datetime, batch: int) -> int:
    rows = await expire_media_rows(pool, now, batch)
    files = await collect_garbage(pool, store, batch)
    if rows or files:
        log.info("media expired", extra={"rows": rows, "files": files})
    return rows
