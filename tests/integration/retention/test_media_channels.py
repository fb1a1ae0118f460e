"""Media files of expired content leave the disk, shared and live files stay; a deleted
channel's content goes at once."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from tests.integration.retention.builder import Builder, ago
from tests.integration.retention.conftest import Run


async def test_media_of_expired_posts_goes_while_shared_and_used_files_stay(
    builder: Builder, run: Run
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel(retention_days=30)
    used = ago(now, days=2)
    expired = await builder.media(
        channel,
        os.urandom(64),
        used,
        first_used_at=used,
        expires_at=ago(now, hours=1),
        thumbnail=True,
    )
    shared_bytes = os.urandom(64)
    shared_expired = await builder.media(
        channel, shared_bytes, used, first_used_at=used, expires_at=ago(now, hours=1)
    )
    shared_live = await builder.media(
        channel, shared_bytes, used, first_used_at=used, expires_at=ago(now, days=-3)
    )
    never_used = await builder.media(channel, os.urandom(64), ago(now, hours=25))
    just_uploaded = await builder.media(channel, os.urandom(64), ago(now, hours=1))
    avatar = await builder.media(channel, os.urandom(64), ago(now, days=3))
    await builder.db.execute(
        "UPDATE channels SET avatar_media_id = $2 WHERE channel_id = $1", channel, avatar.media_id
    )

    await run(now)

    remaining = {
        r["media_id"]
        for r in await builder.db.fetch("SELECT media_id FROM media WHERE channel_id = $1", channel)
    }
    assert remaining == {shared_live.media_id, just_uploaded.media_id, avatar.media_id}
    assert not builder.file_exists(expired.storage_key)
    assert expired.thumbnail_key is not None and not builder.file_exists(expired.thumbnail_key)
    assert not builder.file_exists(never_used.storage_key)
    # The expired row shared its bytes with a live one: the file stays.
    assert shared_expired.storage_key == shared_live.storage_key
    assert builder.file_exists(shared_live.storage_key)
    assert builder.file_exists(just_uploaded.storage_key)
    assert builder.file_exists(avatar.storage_key)


async def test_deleted_channel_loses_all_its_content_in_one_run(builder: Builder, run: Run) -> None:
    now = datetime.now(UTC)
    doomed = await builder.channel(retention_days=30)
    neighbour = await builder.channel(retention_days=30)
    posts = await builder.posts(doomed, [ago(now, days=d) for d in (20, 10, 1, 0)])
    kept = await builder.posts(neighbour, [ago(now, days=1)])
    await builder.follow_and_interact(posts + kept, ["acct-1", "acct-2"])
    media = await builder.media(
        doomed,
        os.urandom(64),
        ago(now, days=1),
        first_used_at=ago(now, days=1),
        expires_at=ago(now, days=-29),
    )
    await builder.set_status(doomed, "deleted")

    report = await run(now)

    assert report.channel_posts_purged == len(posts)
    assert set((await builder.channel_rows(doomed)).values()) == {0}
    assert not builder.file_exists(media.storage_key)
    neighbour_rows = await builder.channel_rows(neighbour)
    assert neighbour_rows["posts"] == 1 and neighbour_rows["follows"] == 2
    assert neighbour_rows["feed_items"] == 2 and neighbour_rows["reactions"] == 2
