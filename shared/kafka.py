"""Kafka helpers: the idempotent producer, manually committed consumers, the DLQ.

Producers are idempotent with `acks=all` and held by a `ProducerHolder`, which replaces one
after a fatal send error; every send is bounded by a timeout so a broker outage becomes an
error the caller can turn into a 503, never a hang. Consumers never
auto-commit: the caller commits `offset + 1` only after its write committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared.events.dlq import DeadLetter
from shared.events.envelope import Event
from shared.metrics.common import DLQ_MESSAGES, KAFKA_PRODUCE_ERRORS, KAFKA_PRODUCE_SECONDS
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import DLQ, topic_base

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """The broker did not acknowledge in time; nothing can be promised about the send."""


def producer_options(settings: HeraldSettings, **overrides: Any) -> dict[str, Any]:
    """`AIOKafkaProducer` options: idempotent, `acks=all`, requests bounded by the produce
    timeout."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "enable_idempotence": True,
        "acks": "all",
        # A few ms of batching raises throughput under load at no visible latency cost.
        "linger_ms": 2,
        "request_timeout_ms": int(settings.produce_timeout_s * 1000),
        "max_request_size": 1024 * 1024,
    }
    options.update(overrides)
    return options


def make_producer(settings: HeraldSettings, **overrides: Any) -> ProducerHolder:
    """A holder of an idempotent producer, replaced with the same options after a fatal
    send error (see `shared.producer`). Call `start()` before sending."""
    options = producer_options(settings, **overrides)
    return ProducerHolder(
        lambda: AIOKafkaProducer(**options), start_timeout_s=settings.produce_timeout_s
    )


def make_consumer(
    settings: HeraldSettings, topics: Sequence[str], group: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 500,
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


async def topic_partitions(settings: HeraldSettings, topic: str) -> list[TopicPartition]:
    """The partitions of an existing topic, as the broker describes them now.

    Asks with a short-lived admin client: a consumer's `partitions_for_topic` only reads a
    metadata cache that a consumer with no subscription never fills at start (aiokafka
    bootstraps with a metadata request for no topics), and `topics()` fetches into a
    throw-away copy of that cache. Raises KafkaError when the topic does not exist or the
    broker does not answer.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        request_timeout_ms=int(settings.produce_timeout_s * 1000),
    )
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == 0 and entry["partitions"]:
            return sorted(TopicPartition(topic, p["partition"]) for p in entry["partitions"])
    raise KafkaError(f"topic {topic} is not known to the broker")


async def produce(
    producer: ProducerHolder,
    topic: str,
    key: str | bytes,
    event: Event,
    timeout_s: float,
    service: str,
) -> None:
    """Send one event and wait for the broker's acknowledgement, at most `timeout_s`."""
    raw_key = key.encode() if isinstance(key, str) else key
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await asyncio.wait_for(
            producer.send_and_wait(topic, event.encode(), key=raw_key), timeout_s
        )
    except (TimeoutError, KafkaError) as exc:
        KAFKA_PRODUCE_ERRORS.labels(service=service, topic=topic_base(topic)).inc()
        raise KafkaUnavailable(f"produce to {topic} failed: {type(exc).__name__}") from exc
    finally:
        KAFKA_PRODUCE_SECONDS.labels(service=service, topic=topic_base(topic)).observe(
            loop.time() - started
        )


async def send_to_dlq(
    producer: ProducerHolder,
    settings: HeraldSettings,
    *,
    consumer: str,
    error: str,
    source_topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> None:
    """Park a poison message on the DLQ and count it. Raises KafkaUnavailable on failure:
    the caller must then not commit past the message."""
    letter = DeadLetter.of(
        consumer=consumer,
        error=error,
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        value=value,
    )
    await produce(
        producer,
        settings.topic(DLQ.name),
        key or b"",
        letter,
        settings.produce_timeout_s,
        consumer,
    )
    DLQ_MESSAGES.labels(service=consumer, topic=topic_base(source_topic)).inc()
    log.warning(
        "message sent to DLQ",
        extra={"topic": source_topic, "partition": partition, "offset": offset, "error": error},
    )


async def kafka_reachable(producer: ProducerHolder, timeout_s: float = 2.0) -> bool:
    """True when the broker answers a metadata request within `timeout_s`."""
    try:
        await asyncio.wait_for(producer.fetch_metadata(), timeout_s)
    except Exception:
        return False
    return True
