"""Media bytes are served only while a visible post uses them, with safe headers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg
import httpx
from uuid6 import uuid7

from shared.media import LocalMediaStore
from tests.integration.feed.builder import Publisher, create_channel, eventually, wait_post_visible
from tests.support.stack import StackSlice

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 16


async def test_media_only_while_a_visible_post_uses_it(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher, stack: StackSlice
) -> None:
    channel_id = await create_channel(db)
    media_id = uuid7()
    key = hashlib.sha256(PNG).hexdigest()
    path = LocalMediaStore(Path(stack.media_dir)).local_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PNG)
    await db.execute(
        "INSERT INTO media (media_id, channel_id, kind, mime, bytes, sha256, storage_key) "
        "VALUES ($1, $2, 'photo', 'image/png', $3, $4, $4)",
        media_id,
        channel_id,
        len(PNG),
        key,
    )
    assert (await client.get(f"/v1/media/{media_id}")).status_code == 404  # not used yet

    body = {
        "type": "photo",
        "caption": "look",
        "media": {"media_id": str(media_id), "kind": "photo", "mime": "image/png", "bytes": 24},
    }
    post_id = await publish.publish(channel_id, body)
    await wait_post_visible(client, channel_id, post_id)
    served = await client.get(f"/v1/media/{media_id}")
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"] == f'inline; filename="{media_id}.png"'

    await publish.delete(channel_id, post_id)

    async def hidden() -> bool:
        return (await client.get(f"/v1/media/{media_id}")).status_code == 404

    await eventually(hidden, what="media hidden after its post was deleted")
    assert (await client.get(f"/v1/media/{uuid7()}")).status_code == 404
