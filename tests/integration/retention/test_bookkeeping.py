"""The publisher's bookkeeping leaves on time: idempotency keys after 24 h, the status of a
post once the post expired, and a deleted channel keeps no words of its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from tests.integration.retention.builder import Builder, ago
from tests.integration.retention.conftest import Run


async def _request(builder: Builder, channel: UUID, key: str, created: datetime) -> None:
    await builder.db.execute(
        """INSERT INTO post_requests (channel_id, idempotency_key, request_hash, post_id,
                                      created_at, state)
           VALUES ($1, $2, 'h', $3, $4, 'accepted')""",
        channel,
        key,
        uuid.uuid4(),
        created,
    )


async def _accepted(builder: Builder, channel: UUID, expires: datetime) -> UUID:
    post_id = uuid.uuid4()
    await builder.db.execute(
        """INSERT INTO accepted_posts (channel_id, post_id, created_at, type, author_id,
                                       expires_at)
           VALUES ($1, $2, $3, 'text', 'admin-1', $4)""",
        channel,
        post_id,
        ago(expires, days=1),
        expires,
    )
    return post_id


async def test_old_keys_and_expired_statuses_go_fresh_ones_stay(builder: Builder, run: Run) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel(retention_days=1)
    await _request(builder, channel, "old", ago(now, hours=25))
    await _request(builder, channel, "fresh", ago(now, hours=23))
    gone = await _accepted(builder, channel, ago(now, minutes=1))
    live = await _accepted(builder, channel, ago(now, minutes=-60))

    report = await run(now)

    assert report.bookkeeping_expired >= 2
    keys = {
        r["idempotency_key"]
        for r in await builder.db.fetch(
            "SELECT idempotency_key FROM post_requests WHERE channel_id = $1", channel
        )
    }
    assert keys == {"fresh"}
    statuses = {
        r["post_id"]
        for r in await builder.db.fetch(
            "SELECT post_id FROM accepted_posts WHERE channel_id = $1", channel
        )
    }
    assert statuses == {live}
    assert gone not in statuses


async def test_a_deleted_channel_keeps_no_name_description_or_statuses(
    builder: Builder, run: Run
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel()
    await builder.db.execute(
        "UPDATE channels SET description = 'Private details' WHERE channel_id = $1", channel
    )
    await _accepted(builder, channel, ago(now, days=-20))
    await _request(builder, channel, "k", ago(now, hours=1))
    await builder.set_status(channel, "deleted")

    await run(now)

    row = await builder.db.fetchrow(
        "SELECT name, description, status FROM channels WHERE channel_id = $1", channel
    )
    assert row is not None
    assert (row["name"], row["description"], row["status"]) == ("deleted channel", "", "deleted")
    for table in ("accepted_posts", "post_requests"):
        count = await builder.db.fetchval(
            f"SELECT count(*) FROM {table} WHERE channel_id = $1",
            channel,
        )
        assert count == 0, table
