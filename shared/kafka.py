"""Kafka helpers: the idempotent producer, manually committed consumers, the DLQ.

Producers are idempotent with `acks=all`; every send is bounded by a timeout so a broker
outage becomes an error the caller can turn into a 503, never a hang. Consumers never
auto-commit: the caller commits `offset + 1` only after its write committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber

from shared.events.dlq import DeadLetter
from shared.events.envelope import Event
from shared.metrics.common import DLQ_MESSAGES, KAFKA_PRODUCE_ERRORS, KAFKA_PRODUCE_SECONDS
from shared.settings import HeraldSettings
from shared.topics import DLQ, topic_base

log = logging.getLogger(__name__)


class KafkaUnavailable(Exception):
    """The broker did not acknowledge in time; nothing can be promised about the send."""


def make_producer(settings: HeraldSettings, **overrides: Any) -> AIOKafkaProducer:
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
    producer = AIOKafkaProducer(**options)
    producer._herald_options = options  # for `revive`
    return producer


# Errors after which a partition's sequence numbers never line up again for this producer
# id: only a new producer id (a re-initialised producer) sends there again.
FATAL_SEQUENCE_ERRORS: tuple[type[Exception], ...] = (OutOfOrderSequenceNumber,)


def note_failure(producer: AIOKafkaProducer, exc: BaseException | None) -> None:
    """Mark the producer for `revive` when a send failed with a fatal sequence error."""
    if isinstance(exc, FATAL_SEQUENCE_ERRORS) or isinstance(
        getattr(exc, "__cause__", None), FATAL_SEQUENCE_ERRORS
    ):
        producer._herald_revive_pending = True


def _sender_dead(producer: AIOKafkaProducer) -> bool:
    if getattr(producer, "_herald_revive_pending", False):
        return True
    task = getattr(getattr(producer, "_sender", None), "sender_task", None)
    return task is not None and task.done()


async def revive(producer: AIOKafkaProducer) -> None:
    """Re-initialise a producer whose sender task died, in place (every holder of the
    object keeps working), with a new producer id.

    aiokafka ends its sender task for good on a fatal error such as
    OutOfOrderSequenceNumber, which a broker restart can cause (found by the chaos
    suite); every later send then fails at once and the service would answer 503 until
    restarted. A failed start (broker still down) is retried by the next call.
    """
    options = getattr(producer, "_herald_options", None)
    if options is None or not _sender_dead(producer):
        return
    lock: asyncio.Lock = producer.__dict__.setdefault("_herald_revive_lock", asyncio.Lock())
    async with lock:
        if not _sender_dead(producer):
            return
        producer._herald_revive_pending = True
        with contextlib.suppress(Exception):
            await producer.stop()
        producer.__init__(**options)
        await producer.start()
        producer._herald_revive_pending = False
        log.warning("kafka producer restarted after its sender failed")


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


async def produce(
    producer: AIOKafkaProducer,
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
        if _sender_dead(producer):  # rare: skip the wait_for task on the hot path
            await asyncio.wait_for(revive(producer), timeout_s)
        await asyncio.wait_for(
            producer.send_and_wait(topic, event.encode(), key=raw_key), timeout_s
        )
    except (TimeoutError, KafkaError) as exc:
        note_failure(producer, exc)
        KAFKA_PRODUCE_ERRORS.labels(service=service, topic=topic_base(topic)).inc()
        raise KafkaUnavailable(f"produce to {topic} failed: {type(exc).__name__}") from exc
    finally:
        KAFKA_PRODUCE_SECONDS.labels(service=service, topic=topic_base(topic)).observe(
            loop.time() - started
        )


async def send_to_dlq(
    producer: AIOKafkaProducer,
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


async def kafka_reachable(producer: AIOKafkaProducer, timeout_s: float = 2.0) -> bool:
    """True when the broker answers a metadata request within `timeout_s`."""
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout_s)
    except Exception:
        return False
    return True
