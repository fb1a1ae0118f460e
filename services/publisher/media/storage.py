"""Store an inspected upload: its file (and thumbnail) in the media store, its `media` row.

Files are content-addressed, so an upload of bytes already stored links its new row to
the existing file. Retention removes a file once no row uses it; to keep it from
removing the file this upload links to, the file is put and the row inserted in one
transaction holding the content's lock (`shared.media.content_lock`), which retention
takes while it checks and removes. Under the lock the file either still exists (and
retention will see the committed row) or is written anew.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from uuid import UUID

import asyncpg
from uuid6 import uuid7

from services.publisher.media.inspect import Inspected
from services.publisher.store.media import insert_media
from shared.media import MediaStore
from shared.media.content_lock import lock_content


def thumbnail_key(sha256: str) -> str:
    return f"{sha256}.thumb.jpg"


async def store_upload(
    pool: asyncpg.Pool,
    store: MediaStore,
    channel_id: UUID,
    source: Path,
    info: Inspected,
    thumbnail: bytes | None,
    scratch: Path,
) -> UUID:
    """Move `source` into the store, with `thumbnail` (JPEG bytes) if given, and insert
    the media row; return its new media_id. `scratch` is a directory on the store's
    filesystem for the thumbnail's temporary file."""
    thumb_key = thumbnail_key(info.sha256) if thumbnail is not None else None
    thumb_tmp: Path | None = None
    if thumbnail is not None:
        # Written before taking the lock, which then covers renames only.
        thumb_tmp = scratch / f"{uuid.uuid4().hex}.part"
        await asyncio.to_thread(thumb_tmp.write_bytes, thumbnail)
    media_id = UUID(bytes=uuid7().bytes)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await lock_content(conn, info.sha256)
            await store.put_file(source, info.sha256)
            if thumb_tmp is not None and thumb_key is not None:
                await store.put_file(thumb_tmp, thumb_key)
            await insert_media(conn, media_id, channel_id, info, thumb_key)
    finally:
        if thumb_tmp is not None:
            thumb_tmp.unlink(missing_ok=True)
    return media_id
