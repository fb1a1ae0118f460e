"""A batch consumer with commit-after-write: poll → decode → batch (size and time) →
apply in one transaction → dead-letter the rejected → emit → commit `offset + 1`.

Contract:
- Offsets are committed only after the batch's transaction committed and its dead letters
  were acknowledged by the broker: at-least-once delivery; the handlers make the effect
  exactly-once (natural keys, moved `counted_*` columns).
- A record that cannot be decoded with the topic's registry, or that the handler rejects
  (unknown/deleted channel), goes to the DLQ and the partition moves on.
- A transient failure (Postgres or Kafka unreachable, serialization failure) pauses the
  assigned partitions, retries the same batch with capped backoff and resumes by itself;
  nothing is committed past the failing batch. Buffers stay bounded: one batch in hand,
  aiokafka's bounded prefetch, no polling while paused.
- A non-transient database error (a value Postgres refuses) is isolated by applying the
  records one at a time; the one that still fails is dead-lettered.

faust's `Stream.take()` is not used here: it acks the buffered events in a `finally`, so
a batch interrupted by shutdown or an exception is committed although it was never
written (reproduced in tests/integration/fanout/test_faust_take_acks.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from services.fanout.config import FanoutSettings
from shared.events.envelope import Event, EventRegistry, PoisonMessage
from shared.kafka import send_to_dlq
from shared.metrics.common import CONSUMER_BATCH_SIZE, CONSUMER_LAG, CONSUMER_RECORDS
from shared.metrics.fanout import BATCH_RETRIES, BATCH_SECONDS
from shared.metrics.lag import LagTracker
from shared.topics import topic_base

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE = "fanout"
# Postgres error classes worth retrying: connection (08), transaction rollback such as
# serialization failure or deadlock (40), insufficient resources (53), operator
# intervention such as admin shutdown (57), system error (58).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# How long to wait for the first record of a batch before polling again (a stop request
# is noticed at this pace).
IDLE_POLL_MS = 500


@dataclass(frozen=True)
class Record:
    """A decoded event and where it came from."""

    event: Event
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Poison:
    """A record no registry version decodes, with the reason."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str


@dataclass
class Outcome:
    """What a handler reports after its transaction committed."""

    rejected: list[tuple[Record, str]] = field(default_factory=list)
    # Runs after the commit, before offsets are committed; best effort (live events).
    after_commit: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[Sequence[Record]], Awaitable[Outcome]]


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        return state[:2] in TRANSIENT_SQLSTATE_CLASSES
    # Connection gone, pool closed, timeouts, the broker not acknowledging: all transient.
    # Anything else is a bug; retrying keeps the partition from committing past it.
    return True


class BatchConsumer:
    """Runs one consumer loop; `stop()` lets the batch in hand finish first."""

    def __init__(
        self,
        *,
        settings: FanoutSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        registry: EventRegistry,
        handler: Handler,
        name: str,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.registry = registry
        self.handler = handler
        self.name = name
        self._stopping = asyncio.Event()
        # First offset of the batch in hand per partition: not processed until committed.
        self._in_hand: dict[TopicPartition, int] = {}

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.consumer.start()
        lag = LagTracker(
            self.consumer,
            service=SERVICE,
            topic=topic_base(self.settings.topic(self.name)),
            pending=self._in_hand.get,
        )
        lag_task = asyncio.create_task(lag.run(), name=f"lag-{self.name}")
        try:
            while not self._stopping.is_set():
                raw = await self._collect()
                if raw:
                    await self._process(raw)
        finally:
            lag_task.cancel()
            await self.consumer.stop()

    async def _collect(self) -> list[Record | Poison]:
        """Poll until `batch_max_records` or `batch_max_wait_s` after the first record."""
        loop = asyncio.get_running_loop()
        limit = self.settings.batch_max_records
        out: list[Record | Poison] = []
        deadline: float | None = None
        while len(out) < limit and not self._stopping.is_set():
            if deadline is None:
                timeout_ms = IDLE_POLL_MS
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                timeout_ms = max(1, int(remaining * 1000))
            polled = await self.consumer.getmany(
                timeout_ms=timeout_ms, max_records=limit - len(out)
            )
            for tp, messages in polled.items():
                for msg in messages:
                    out.append(self._decode(tp, msg.offset, msg.key, msg.value))
            if out and deadline is None:
                deadline = loop.time() + self.settings.batch_max_wait_s
            if deadline is None and not polled:
                return out
        return out

    def _decode(
        self, tp: TopicPartition, offset: int, key: bytes | None, value: bytes | None
    ) -> Record | Poison:
        try:
            event = self.registry.decode(value)
        except PoisonMessage as exc:
            return Poison(tp.topic, tp.partition, offset, key, value, str(exc))
        return Record(event, tp.topic, tp.partition, offset, key, value)

    async def _process(self, raw: list[Record | Poison]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        topic = topic_base(self.settings.topic(self.name))
        CONSUMER_BATCH_SIZE.labels(service=SERVICE, topic=topic).observe(len(raw))
        for r in raw:
            tp = TopicPartition(r.topic, r.partition)
            self._in_hand[tp] = min(self._in_hand.get(tp, r.offset), r.offset)
        good = [r for r in raw if isinstance(r, Record)]
        poison = [r for r in raw if isinstance(r, Poison)]
        outcome = await self._retrying(lambda: self._apply(good))
        dead = poison + [
            Poison(r.topic, r.partition, r.offset, r.key, r.value, error)
            for r, error in outcome.rejected
        ]
        for letter in dead:
            await self._retrying(lambda letter=letter: self._dead_letter(letter))  # type: ignore[misc]
        if outcome.after_commit is not None:
            try:
                await outcome.after_commit()
            except Exception:  # live events are best effort: clients resync from Postgres
                log.exception("after-commit step failed", extra={"topic": topic})
        await self._commit(raw)
        self._in_hand.clear()
        CONSUMER_RECORDS.labels(service=SERVICE, topic=topic, outcome="processed").inc(
            len(raw) - len(dead)
        )
        CONSUMER_RECORDS.labels(service=SERVICE, topic=topic, outcome="dead_lettered").inc(
            len(dead)
        )
        BATCH_SECONDS.labels(topic=topic).observe(loop.time() - started)

    async def _apply(self, records: list[Record]) -> Outcome:
        """The handler over the whole batch; on a value Postgres refuses, one at a time."""
        if not records:
            return Outcome()
        try:
            return await self.handler(records)
        except Exception as exc:
            if is_transient(exc):
                raise
            if len(records) == 1:
                return Outcome(rejected=[(records[0], f"rejected by database: {exc}")])
            log.warning(
                "batch refused by database, isolating the record",
                extra={"error": str(exc), "records": len(records)},
            )
        merged = Outcome()
        afters: list[Callable[[], Awaitable[None]]] = []
        for record in records:
            one = await self._apply([record])
            merged.rejected.extend(one.rejected)
            if one.after_commit is not None:
                afters.append(one.after_commit)

        async def run_afters() -> None:
            for after in afters:
                await after()

        merged.after_commit = run_afters
        return merged

    async def _dead_letter(self, letter: Poison) -> None:
        await send_to_dlq(
            self.producer,
            self.settings,
            consumer=SERVICE,
            error=letter.error,
            source_topic=letter.topic,
            partition=letter.partition,
            offset=letter.offset,
            key=letter.key,
            value=letter.value,
        )

    async def _retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry a transient failure with capped backoff, partitions paused meanwhile."""
        delay = self.settings.retry_initial_s
        paused: set[TopicPartition] = set()
        try:
            while True:
                try:
                    return await attempt()
                except Exception as exc:
                    if not is_transient(exc):
                        raise
                    BATCH_RETRIES.labels(topic=topic_base(self.settings.topic(self.name))).inc()
                    if not paused:
                        paused = set(self.consumer.assignment())
                        self.consumer.pause(*paused)
                    log.warning(
                        "batch failed, retrying",
                        extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": delay},
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.settings.retry_max_s)
        finally:
            if paused:
                # Partitions revoked meanwhile are no longer ours to resume.
                self.consumer.resume(*(paused & set(self.consumer.assignment())))

    async def _commit(self, raw: list[Record | Poison]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in raw:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, -1), r.offset + 1)
        mine = set(self.consumer.assignment())
        offsets = {tp: o for tp, o in offsets.items() if tp in mine}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            # A rebalance took the partition: its next owner replays from the last
            # committed offset, and the writes are idempotent.
            log.warning("offset commit failed", extra={"error": str(exc)})
        topic = topic_base(self.settings.topic(self.name))
        for tp, next_offset in offsets.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                CONSUMER_LAG.labels(service=SERVICE, topic=topic, partition=str(tp.partition)).set(
                    max(0, high - next_offset)
                )
