"""The batch consumer loop: poll → decode → batch → apply in one transaction →
dead-letter the rejected → after-commit step → commit `offset + 1`.

Contract:
- Offsets are committed only after the batch's transaction committed and its dead letters
  were acknowledged by the broker: at-least-once delivery; the handlers make the effect
  exactly-once (natural keys, moved `counted_*` columns).
- A record that cannot be decoded with the topic's registry, or that the handler rejects
  (unknown/deleted channel), goes to the DLQ and the partition moves on.
- Failures follow `policy`: a transient one pauses the assigned partitions, retries the
  same batch with capped backoff and resumes by itself, committing nothing past the
  batch; a refused value is isolated at once, a fault after `MAX_HANDLER_ATTEMPTS`
  attempts: the records are applied one at a time and the one that still fails is
  dead-lettered with its error class, while the others are applied and committed.
- A batch takes what is already fetched and goes: the loop waits for a first record, then
  drains aiokafka's buffer without waiting (`getmany(timeout_ms=0)`). It lingers up to
  `batch_max_wait_s` for more only under load, i.e. when the previous batch filled up,
  so an idle system never holds a post back for a timer.
- Buffers stay bounded: one batch in hand, aiokafka's bounded prefetch, no polling while
  a batch is retried (its partitions are paused).

faust's `Stream.take()` is not used here: it acks the buffered events in a `finally`, so
a batch interrupted by shutdown or an exception is committed although it was never
written (reproduced in tests/integration/fanout/test_faust_take_acks.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.fanout.config import FanoutSettings
from services.fanout.consumer.policy import (
    ISOLATED_ATTEMPTS,
    Attempts,
    Backoff,
    Failure,
    classify,
    describe,
    frames,
)
from services.fanout.consumer.records import Handler, Outcome, Poison, Record, decode
from shared.db.pool import recycle_after_failover
from shared.events.envelope import EventRegistry
from shared.kafka import send_to_dlq
from shared.metrics.common import CONSUMER_BATCH_SIZE, CONSUMER_RECORDS
from shared.metrics.fanout import BATCH_RETRIES, BATCH_SECONDS, RECORDS_FAILED
from shared.metrics.lag import LagTracker
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import topic_base

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVICE = "fanout"
# How long one poll waits for the first record of a batch. It returns as soon as a record
# arrives; the bound only sets how soon a stop request is noticed while idle.
IDLE_POLL_MS = 500


class DeadLetterSink(Protocol):
    """What parks a record on the DLQ: `shared.kafka.send_to_dlq`, or a fake in tests.
    It raises when the broker did not acknowledge; the caller then retries rather than
    commit past the record."""

    async def __call__(
        self,
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
    ) -> None: ...


class BatchConsumer:
    """Runs one consumer loop; `request_stop()` lets the batch in hand finish first."""

    def __init__(
        self,
        *,
        settings: FanoutSettings,
        consumer: AIOKafkaConsumer,
        producer: ProducerHolder,
        registry: EventRegistry,
        handler: Handler,
        name: str,
        dead_letters: DeadLetterSink = send_to_dlq,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.registry = registry
        self.handler = handler
        self.name = name
        self.dead_letters = dead_letters
        self.topic = topic_base(settings.topic(name))  # a bounded metric label
        self._stopping = asyncio.Event()
        # The previous batch filled up: the next one may linger for more (load).
        self._loaded = False
        # First offset of the batch in hand per partition: not processed until committed.
        self._in_hand: dict[TopicPartition, int] = {}

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.consumer.start()
        lag = LagTracker(
            self.consumer, service=SERVICE, topic=self.topic, pending=self._in_hand.get
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
        """Wait for a first record, take what is fetched already, linger only under load."""
        limit = self.settings.batch_max_records
        out: list[Record | Poison] = []
        await self._poll(out, IDLE_POLL_MS)
        if not out:
            return out
        while len(out) < limit and await self._poll(out, 0):
            pass
        if self._loaded and len(out) < limit:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.settings.batch_max_wait_s
            while len(out) < limit and not self._stopping.is_set():
                remaining_ms = int((deadline - loop.time()) * 1000)
                if remaining_ms <= 0:
                    break
                await self._poll(out, remaining_ms)
        self._loaded = len(out) >= limit
        return out

    async def _poll(self, out: list[Record | Poison], timeout_ms: int) -> bool:
        """Append up to the batch's remaining room; False when nothing came."""
        room = self.settings.batch_max_records - len(out)
        polled = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=room)
        for tp, messages in polled.items():
            for m in messages:
                out.append(decode(self.registry, tp.topic, tp.partition, m.offset, m.key, m.value))
        return any(polled.values())

    async def _process(self, raw: list[Record | Poison]) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        CONSUMER_BATCH_SIZE.labels(service=SERVICE, topic=self.topic).observe(len(raw))
        for r in raw:
            tp = TopicPartition(r.topic, r.partition)
            self._in_hand[tp] = min(self._in_hand.get(tp, r.offset), r.offset)
        good = [r for r in raw if isinstance(r, Record)]
        poison = [r for r in raw if isinstance(r, Poison)]
        outcome = await self._apply(good)
        dead = poison + [Poison.of(r, error) for r, error in outcome.rejected]
        for letter in dead:
            # The DLQ is a record's last stop: giving up would lose it or commit past it.
            await self._attempting(lambda letter=letter: self._dead_letter(letter), None)  # type: ignore[misc]
        if outcome.after_commit is not None:
            try:
                await outcome.after_commit()
            except Exception:  # live events are best effort: clients resync from Postgres
                log.exception("after-commit step failed", extra={"topic": self.topic})
        await self._commit(raw)
        self._in_hand.clear()
        CONSUMER_RECORDS.labels(service=SERVICE, topic=self.topic, outcome="processed").inc(
            len(raw) - len(dead)
        )
        CONSUMER_RECORDS.labels(service=SERVICE, topic=self.topic, outcome="dead_lettered").inc(
            len(dead)
        )
        BATCH_SECONDS.labels(topic=self.topic).observe(loop.time() - started)

    async def _apply(self, records: list[Record]) -> Outcome:
        """The handler over the whole batch; when the policy gives up on it, one record at
        a time, each failing one rejected with its error. Returns once committed."""
        if not records:
            return Outcome()
        try:
            return await self._attempting(lambda: self.handler(records), Attempts())
        except Exception as exc:
            failure = classify(exc)
            if len(records) == 1:
                return self._failed(records[0], exc, failure)
            log.warning(
                "batch failed, isolating the failing records",
                extra={"error": type(exc).__name__, "reason": failure, "records": len(records)},
            )
        merged = Outcome()
        afters: list[Callable[[], Awaitable[None]]] = []
        for record in records:
            try:
                one = await self._attempting(
                    lambda record=record: self.handler([record]),  # type: ignore[misc]
                    Attempts(limit=ISOLATED_ATTEMPTS),
                )
            except Exception as exc:
                one = self._failed(record, exc, classify(exc))
            merged.rejected.extend(one.rejected)
            if one.after_commit is not None:
                afters.append(one.after_commit)

        async def run_afters() -> None:
            for after in afters:
                await after()

        merged.after_commit = run_afters
        return merged

    def _failed(self, record: Record, exc: Exception, failure: Failure) -> Outcome:
        """The record the handler could not apply, bound for the DLQ, counted and logged
        with where it failed (never the exception's message: it may quote the record)."""
        RECORDS_FAILED.labels(topic=self.topic, reason=failure.value).inc()
        log.error(
            "record failed in the handler, dead-lettering it",
            extra={
                "topic": self.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error": type(exc).__name__,
                "reason": failure.value,
                "traceback": frames(exc) if failure is Failure.FAULT else None,
            },
        )
        return Outcome(rejected=[(record, describe(exc, failure, self.topic))])

    async def _dead_letter(self, letter: Poison) -> None:
        await self.dead_letters(
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

    async def _attempting(
        self, attempt: Callable[[], Awaitable[T]], attempts: Attempts | None
    ) -> T:
        """Run `attempt` until it succeeds, retrying with capped backoff (partitions
        paused meanwhile) until `attempts` gives up, then raise its last failure.
        `attempts=None` retries every failure."""
        backoff = Backoff(self.settings.retry_initial_s, self.settings.retry_max_s)
        paused: set[TopicPartition] = set()
        try:
            while True:
                try:
                    return await attempt()
                except Exception as exc:
                    failure = classify(exc)
                    if attempts is not None and attempts.give_up(failure):
                        raise
                    # The retry must not get a connection to a lost or demoted server.
                    await recycle_after_failover(exc)
                    BATCH_RETRIES.labels(topic=self.topic).inc()
                    if not paused:
                        paused = set(self.consumer.assignment())
                        self.consumer.pause(*paused)
                    # A transient error's text names a host or a state, not a record.
                    error = type(exc).__name__
                    if failure is Failure.TRANSIENT:
                        error = f"{error}: {exc}"
                    log.warning(
                        "batch failed, retrying",
                        extra={
                            "error": error,
                            "reason": failure.value,
                            "retry_in_s": backoff.next_s,
                        },
                    )
                    await backoff.wait()
        finally:
            if paused:
                # Partitions revoked meanwhile are no longer ours to resume.
                self.consumer.resume(*(paused & set(self.consumer.assignment())))

    async def _commit(self, raw: Sequence[Record | Poison]) -> None:
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
