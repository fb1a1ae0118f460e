"""Kafka topic configs are held to the retention promise; runs are safe together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.retention.run import RETENTION_LOCK_ID
from shared.topics import DAY_MS, HOUR_MS, LIVE, POSTS, describe_topic_configs
from tests.integration.retention.builder import Builder, ago
from tests.integration.retention.conftest import Run
from tests.support.stack import StackSlice


async def test_content_topics_kept_too_long_are_corrected(stack: StackSlice, run: Run) -> None:
    posts, live = stack.topic(POSTS.name), stack.topic(LIVE.name)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    posts,
                    configs={
                        "retention.ms": str(90 * DAY_MS),
                        "segment.ms": str(7 * DAY_MS),
                        "cleanup.policy": "delete",
                        "max.compaction.lag.ms": str(DAY_MS),
                    },
                ),
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    live,
                    configs={"retention.ms": "-1", "segment.ms": str(HOUR_MS)},
                ),
            ]
        )

        report = await run()

        configs = await describe_topic_configs(admin, [posts, live])
    finally:
        await admin.close()
    assert report.topic_corrections[posts] == {
        "retention.ms": str(30 * DAY_MS),
        "segment.ms": str(HOUR_MS),
    }
    assert report.topic_corrections[live] == {"retention.ms": str(DAY_MS)}
    assert configs[posts]["retention.ms"] == str(30 * DAY_MS)
    assert configs[posts]["segment.ms"] == str(HOUR_MS)
    # What the operator set besides stays set (a setting inert on a delete-policy topic,
    # so later tests on this topic see no difference).
    assert configs[posts]["max.compaction.lag.ms"] == str(DAY_MS)
    assert configs[live]["retention.ms"] == str(DAY_MS)
    assert (await run()).topic_corrections == {}


async def test_a_run_skips_while_another_instance_holds_the_lock(
    db: asyncpg.Pool, run: Run
) -> None:
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT pg_try_advisory_lock($1)", RETENTION_LOCK_ID)
        try:
            assert (await run()).skipped
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK_ID)
    assert not (await run()).skipped


async def test_concurrent_runs_do_not_collide(builder: Builder, run: Run) -> None:
    now = datetime.now(UTC)
    daily = await builder.channel(retention_days=1)
    expired = await builder.posts(daily, [ago(now, hours=30, seconds=s) for s in range(40)])
    fresh = await builder.posts(daily, [ago(now, hours=2)])
    await builder.follow_and_interact(expired + fresh, ["acct-1"])

    reports = await asyncio.gather(run(now), run(now), run(now))

    assert sum(r.posts_expired for r in reports) >= len(expired)
    assert set((await builder.rows_of(expired)).values()) == {0}
    assert await builder.rows_of(fresh) == {
        "posts": 1,
        "feed_items": 1,
        "reactions": 1,
        "poll_votes": 1,
        "post_counters": 2,
        "post_views": 1,
    }
