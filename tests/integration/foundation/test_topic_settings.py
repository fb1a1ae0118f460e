"""Cluster settings on the real broker: topics are created with the configured
`min.insync.replicas`, a bootstrap list of several brokers works when one of them is
down, and a topic whose replication factor differs is used with a warning."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.retention.topics import TopicConfig, describe
from shared.events.interactions import INTERACTION_EVENTS, FollowChanged, FollowChangedV1
from shared.kafka import make_producer, produce, topic_partitions
from shared.settings import HeraldSettings
from shared.topics import LIVE, POSTS, ensure_topics
from tests.support.stack import StackSlice

# Nothing listens on port 1 of loopback: a broker of the list that is down.
DOWN_BROKER = "127.0.0.1:1"


def cluster_settings(stack: StackSlice, **overrides: object) -> HeraldSettings:
    """The session's settings in a namespace of its own (its topics are removed with the
    session's, whose clean-up takes `<namespace>-…` too), so topics are created here."""
    values: dict[str, object] = {
        "namespace": f"{stack.namespace}-insync{uuid.uuid4().hex[:6]}",
        # The dead broker first in the list; the client tries the others.
        "kafka_bootstrap": f"{DOWN_BROKER},{stack.kafka_bootstrap}",
        "kafka_replication_factor": 1,
        "kafka_min_insync_replicas": 1,
    }
    values.update(overrides)
    return stack.settings().model_copy(update=values)


async def test_created_topics_carry_min_insync_replicas(stack: StackSlice) -> None:
    settings = cluster_settings(stack)
    created = await ensure_topics(settings, (POSTS, LIVE))
    names = [settings.topic(POSTS.name), settings.topic(LIVE.name)]
    assert sorted(created) == sorted(names)

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        configs = await described(admin, names)
    finally:
        await admin.close()
    for name in names:
        # Set on the topic itself (a dynamic topic config), not the broker's default
        # that happens to be 1 on a single broker too.
        assert configs[name].dynamic["min.insync.replicas"] == "1"
        # Herald's own configs are still there beside it.
        assert configs[name].dynamic["segment.ms"] == str(POSTS.segment_ms)


async def described(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, TopicConfig]:
    """The topics' configs, once the broker knows every one of them (a topic just
    created may be unknown to a describe for a moment)."""
    for _ in range(50):
        configs = await describe(admin, names)
        if set(configs) == set(names):
            return configs
        await asyncio.sleep(0.1)
    raise AssertionError(f"topics never described: {names}")


async def test_a_bootstrap_list_with_a_broker_down_still_produces_and_describes(
    stack: StackSlice,
) -> None:
    settings = cluster_settings(stack)
    await ensure_topics(settings, (POSTS,))
    topic = settings.topic(POSTS.name)
    # The admin client (partition lookup) and the producer both take the list.
    assert len(await topic_partitions(settings, topic)) == POSTS.partitions
    producer = make_producer(settings)
    await producer.start()
    account = f"acct-{uuid.uuid4().hex[:8]}"
    event = FollowChanged(payload=FollowChangedV1(channel_id=uuid.uuid4(), account_id=account))
    try:
        await produce(producer, topic, "key-0", event, 10, "test")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(POSTS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        got: list[str] = []
        for _ in range(6):  # a bound on polls, not a timing assertion
            batch = await consumer.getmany(timeout_ms=5_000)
            got += [
                INTERACTION_EVENTS.decode(r.value).payload.account_id
                for records in batch.values()
                for r in records
            ]
            if got:
                break
        assert got == [account]
    finally:
        await consumer.stop()


async def test_an_existing_topic_with_another_replication_factor_is_used_with_a_warning(
    stack: StackSlice, caplog: pytest.LogCaptureFixture
) -> None:
    settings = cluster_settings(stack)
    await ensure_topics(settings, (POSTS,))
    # A deployment moved to a 3-broker setting finds the topic made with 1 replica.
    moved = settings.model_copy(update={"kafka_replication_factor": 3})
    with caplog.at_level(logging.WARNING, logger="shared.topics"):
        assert await ensure_topics(moved, (POSTS,)) == []
    warnings = [r for r in caplog.records if "replication factor" in r.getMessage()]
    assert [(r.topic, r.replicas, r.configured) for r in warnings] == [  # type: ignore[attr-defined]
        (settings.topic(POSTS.name), 1, 3)
    ]
