"""Retention's media collection against the publisher's use of the same media, interleaved
step by step on two connections (real Postgres, real files):

- an upload of the same bytes arriving between retention's "no row uses this file" check
  and its removal of the file still ends with its file on disk;
- a post claiming an old, never-used upload while retention collects unused uploads keeps
  its media.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from PIL import Image

from services.publisher.media.inspect import Inspected
from services.publisher.media.storage import store_upload
from services.publisher.store.media import claim_for_post
from services.retention.media import (
    claim_garbage,
    collect_garbage,
    expire_media_rows,
    forget_garbage,
)
from shared.events.content import MediaKind
from shared.media.content_lock import CONTENT_LOCK_CLASS, content_lock_id
from tests.integration.retention.builder import Builder, ago
from tests.support.stack import StackSlice

BATCH = 7


def photo_bytes() -> bytes:
    """A small real JPEG, different every time (random pixels)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (24, 16), os.urandom(24 * 16 * 3)).save(out, "JPEG")
    return out.getvalue()


async def queued(db: asyncpg.Pool, key: str) -> bool:
    found: bool = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM retention_media_garbage WHERE storage_key = $1)", key
    )
    return found


async def until_waiting_for_content_lock(db: asyncpg.Pool, key: str) -> None:
    """Return once some session waits for the content lock of `key` (polled, bounded)."""
    for _ in range(200):
        if await db.fetchval(
            """SELECT count(*) FROM pg_locks
               WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2
                 AND classid::bigint = $1 AND objid::bigint = $2""",
            CONTENT_LOCK_CLASS,
            content_lock_id(key) & 0xFFFFFFFF,
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the upload never waited for the content's lock")


async def test_upload_between_retentions_check_and_delete_keeps_its_file(
    builder: Builder, stack: StackSlice
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel()
    content = photo_bytes()
    key = hashlib.sha256(content).hexdigest()
    # An expired photo whose file only it uses: its row goes and its file is queued.
    used = ago(now, days=3)
    await builder.media(channel, content, used, first_used_at=used, expires_at=ago(now, hours=1))
    await expire_media_rows(builder.db, now, BATCH)
    assert await queued(builder.db, key)

    # Retention's check, on a connection of its own: nothing uses the file any more.
    retention = await asyncpg.connect(stack.database_url)
    try:
        collecting = retention.transaction()
        await collecting.start()
        assert await claim_garbage(retention, key)

        # Meanwhile an admin uploads the same bytes again.
        scratch = Path(stack.media_dir) / "incoming"
        scratch.mkdir(parents=True, exist_ok=True)
        source = scratch / f"{uuid.uuid4().hex}.part"
        source.write_bytes(content)
        info = Inspected(MediaKind.PHOTO, "image/jpeg", len(content), key, 24, 16)
        upload = asyncio.create_task(
            store_upload(builder.db, builder.store, channel, source, info, None, scratch)
        )
        await until_waiting_for_content_lock(builder.db, key)
        assert not upload.done()

        # Retention's delete step, then its commit.
        assert await builder.store.delete(key)
        await forget_garbage(retention, key)
        await collecting.commit()
    finally:
        await retention.close()

    media_id = await upload
    row = await builder.db.fetchrow(
        "SELECT storage_key, bytes FROM media WHERE media_id = $1", media_id
    )
    assert row is not None and row["storage_key"] == key
    # The new media's file is there, with the uploaded bytes, and stays through a run.
    assert builder.store.local_path(key).read_bytes() == content
    assert await collect_garbage(builder.db, builder.store, BATCH) == 0
    assert builder.store.local_path(key).read_bytes() == content
    assert not await queued(builder.db, key)


async def test_upload_committed_before_collection_keeps_the_file(builder: Builder) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel()
    content = photo_bytes()
    key = hashlib.sha256(content).hexdigest()
    used = ago(now, days=3)
    await builder.media(channel, content, used, first_used_at=used, expires_at=ago(now, hours=1))
    await expire_media_rows(builder.db, now, BATCH)
    assert await queued(builder.db, key)

    again = await builder.media(channel, content, now)
    await collect_garbage(builder.db, builder.store, BATCH)

    assert builder.file_exists(again.storage_key)
    assert not await queued(builder.db, key)


async def test_post_claiming_an_old_unused_upload_during_collection_keeps_it(
    builder: Builder, stack: StackSlice
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel()
    # Uploaded 25 hours ago and never used: retention's "unused" rule would remove it.
    media = await builder.media(channel, photo_bytes(), ago(now, hours=25))

    publisher = await asyncpg.connect(stack.database_url)
    try:
        async with publisher.transaction():
            ref = await claim_for_post(
                publisher, channel, media.media_id, MediaKind.PHOTO, ago(now, days=-30)
            )
            assert ref is not None and ref.media_id == media.media_id
            # Retention runs while the publisher has not committed yet: it skips the row.
            await expire_media_rows(builder.db, now, BATCH)
    finally:
        await publisher.close()
    # And after the commit the row is used: it stays, with its file.
    await expire_media_rows(builder.db, now, BATCH)
    await collect_garbage(builder.db, builder.store, BATCH)

    row = await builder.db.fetchrow(
        "SELECT first_used_at FROM media WHERE media_id = $1", media.media_id
    )
    assert row is not None and row["first_used_at"] is not None
    assert builder.file_exists(media.storage_key)
