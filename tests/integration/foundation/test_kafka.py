"""The local broker with Herald's Kafka helpers: idempotent produce, manual commits."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from shared.events.interactions import INTERACTION_EVENTS, FollowChanged, FollowChangedV1
from shared.kafka import make_consumer, make_producer, produce
from shared.topics import ALL_TOPICS, CONTENT_RETENTION_MS, describe_topic_configs
from tests.support.stack import StackSlice


async def _fresh_topic(stack: StackSlice, partitions: int = 1) -> str:
    name = f"{stack.namespace}.smoke-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


def _event(n: int) -> FollowChanged:
    return FollowChanged(payload=FollowChangedV1(channel_id=uuid.uuid4(), account_id=f"acct-{n}"))


async def test_idempotent_produce_is_consumed_and_commits_survive_restart(
    stack: StackSlice,
) -> None:
    settings = stack.settings()
    topic = await _fresh_topic(stack)
    group = f"{stack.namespace}.smoke-group"
    producer = make_producer(settings)
    await producer.start()
    try:
        for n in range(5):
            await produce(producer, topic, f"k{n}", _event(n), 10, "test")
    finally:
        await producer.stop()

    consumer = make_consumer(settings, [topic], group)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000, max_records=3)
        records = [r for rs in batch.values() for r in rs]
        while len(records) < 3:
            more = await consumer.getmany(timeout_ms=5_000, max_records=3 - len(records))
            records += [r for rs in more.values() for r in rs]
        decoded = [INTERACTION_EVENTS.decode(r.value) for r in records]
        assert [e.payload.account_id for e in decoded] == ["acct-0", "acct-1", "acct-2"]
        tp = TopicPartition(topic, 0)
        await consumer.commit({tp: records[-1].offset + 1})
    finally:
        await consumer.stop()

    # A new consumer in the same group resumes after the committed offset: no redelivery
    # of what was committed, nothing skipped.
    consumer = make_consumer(settings, [topic], group)
    await consumer.start()
    try:
        remaining: list[str] = []
        while len(remaining) < 2:
            batch = await consumer.getmany(timeout_ms=10_000)
            remaining += [
                INTERACTION_EVENTS.decode(r.value).payload.account_id
                for rs in batch.values()
                for r in rs
            ]
        assert remaining == ["acct-3", "acct-4"]
    finally:
        await consumer.stop()


async def test_declared_topics_exist_with_bounded_retention(stack: StackSlice) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        names = [stack.topic(spec.name) for spec in ALL_TOPICS]
        described = await admin.describe_topics(names)
        partitions = {d["topic"]: len(d["partitions"]) for d in described}
        assert partitions == {stack.topic(s.name): s.partitions for s in ALL_TOPICS}
        configs = await describe_topic_configs(admin, names)
        for spec in ALL_TOPICS:
            config = configs[stack.topic(spec.name)]
            assert int(config["retention.ms"]) <= CONTENT_RETENTION_MS
            assert int(config["segment.ms"]) <= 3600 * 1000
            assert config["cleanup.policy"] == "delete"
    finally:
        await admin.close()
