"""Posts leave every table when their retention is over, and nothing younger does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from shared.events.envelope import PoisonMessage
from shared.events.live import LIVE_EVENTS, LiveHistoryTrimmed
from shared.kafka import make_consumer, topic_partitions
from shared.topics import LIVE
from tests.integration.retention.builder import Builder, ago
from tests.integration.retention.conftest import Run
from tests.support.stack import StackSlice

ACCOUNTS = ["acct-1", "acct-2", "acct-3"]


async def test_posts_past_thirty_days_go_with_their_partitions(builder: Builder, run: Run) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel(retention_days=30)
    old = await builder.posts(channel, [ago(now, days=31, minutes=m) for m in range(12)])
    kept = await builder.posts(channel, [ago(now, days=29), ago(now, hours=1)])
    await builder.follow_and_interact(old + kept, ACCOUNTS)
    ancient = await builder.posts(channel, [ago(now, days=45)])

    report = await run(now)

    assert await builder.rows_of(old + ancient) == dict.fromkeys(
        ("posts", "feed_items", "reactions", "poll_votes", "post_counters", "post_views"), 0
    )
    assert await builder.rows_of(kept) == {
        "posts": 2,
        "feed_items": 6,
        "reactions": 6,
        "poll_votes": 6,
        "post_counters": 4,
        "post_views": 2,
    }
    for table in ("posts", "feed_items"):
        assert not await builder.partition_exists(table, ago(now, days=31))
        assert not await builder.partition_exists(table, ago(now, days=45))
        assert await builder.partition_exists(table, ago(now, days=29))
        # Created ahead: fan-out never has to wait on DDL.
        assert await builder.partition_exists(table, now + timedelta(days=7))
    assert f"posts_p{ago(now, days=31):%Y%m%d}" in report.partitions_dropped
    # Operators see it: the oldest content left is within the retention window.
    oldest = REGISTRY.get_sample_value(
        "herald_retention_oldest_content_age_seconds", {"table": "posts"}
    )
    assert oldest is not None and 0 < oldest <= 31 * 86400
    assert (REGISTRY.get_sample_value("herald_retention_last_success_timestamp_seconds") or 0) > 0
    dropped = REGISTRY.get_sample_value(
        "herald_retention_partitions_dropped_total", {"table": "posts"}
    )
    assert dropped is not None and dropped >= 2


async def test_short_retention_channel_loses_expired_posts_and_everything_on_them(
    builder: Builder, run: Run
) -> None:
    now = datetime.now(UTC)
    daily = await builder.channel(retention_days=1)
    monthly = await builder.channel(retention_days=30)
    expired = await builder.posts(daily, [ago(now, hours=h) for h in (50, 30, 26, 25)])
    fresh = await builder.posts(daily, [ago(now, hours=20), ago(now, minutes=5)])
    other = await builder.posts(monthly, [ago(now, hours=30)])
    await builder.follow_and_interact(expired + fresh + other, ACCOUNTS)

    report = await run(now)

    assert report.posts_expired >= len(expired)
    assert set((await builder.rows_of(expired)).values()) == {0}
    assert await builder.rows_of(fresh) == {
        "posts": 2,
        "feed_items": 6,
        "reactions": 6,
        "poll_votes": 6,
        "post_counters": 4,
        "post_views": 2,
    }
    assert (await builder.rows_of(other))["posts"] == 1
    # The follows themselves are not content of a post: they stay.
    assert (await builder.channel_rows(daily))["follows"] == len(ACCOUNTS)


async def test_live_clients_are_told_which_history_was_trimmed(
    builder: Builder, run: Run, stack: StackSlice
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel(retention_days=2)
    expired = await builder.posts(channel, [ago(now, days=3, hours=h) for h in (3, 2, 1)])
    await builder.posts(channel, [ago(now, hours=1)])

    await run(now)

    consumer = make_consumer(stack.settings(), [], None)
    await consumer.start()
    try:
        topic = stack.topic(LIVE.name)
        consumer.assign(await topic_partitions(stack.settings(), topic))
        await consumer.seek_to_beginning()
        trimmed: list[LiveHistoryTrimmed] = []
        async with asyncio.timeout(20):
            while not trimmed:
                batch = await consumer.getmany(timeout_ms=1000)
                for record in (r for rs in batch.values() for r in rs):
                    # The session's live topic also holds other tests' hostile records.
                    try:
                        event = LIVE_EVENTS.decode(record.value)
                    except PoisonMessage:
                        continue
                    if (
                        isinstance(event, LiveHistoryTrimmed)
                        and event.payload.channel_id == channel
                    ):
                        assert record.key == str(channel).encode()
                        trimmed.append(event)
    finally:
        await consumer.stop()
    assert trimmed[0].payload.up_to_seq == expired[-1].seq
