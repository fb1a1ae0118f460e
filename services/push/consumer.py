"""A committed consumer loop: poll → handle each record → commit `offset + 1`.

Contract:
- Offsets are committed only after the handler returned for every record of the batch
  (at-least-once: a crash redoes at most the batch in hand, `max_records` records).
- A record the handler refuses with `PoisonMessage` goes to the DLQ (with the reason,
  never its content) and the partition moves on; the DLQ send is retried until the
  broker acknowledges, so nothing is committed past a record that was neither handled
  nor parked.
- Any other handler error is transient: the loop seeks back to the first record of the
  batch not yet handled, waits with capped exponential backoff and tries again. Records
  already handled in that batch are not handled again (their offsets are committed
  first), so a failure in a large batch repeats no side effects of its earlier records.
- One batch in hand plus aiokafka's bounded prefetch: memory stays bounded.
- `concurrent=True` handles every record of a poll at once (at most `max_records`, from
  whichever partitions): a record that waits (on Postgres, on push services) no longer
  leaves the process idle. Each partition's offset still moves only past records all of
  whose predecessors were handled; a record that fails is retried alone, and the records
  handled beside it are not handled again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared.db.pool import recycle_after_failover
from shared.events.envelope import PoisonMessage
from shared.kafka import KafkaUnavailable, send_to_dlq
from shared.metrics.common import CONSUMER_RECORDS
from shared.metrics.lag import LagTracker
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import topic_base

log = logging.getLogger(__name__)

SERVICE = "push"
# How long one poll waits when idle; it only sets how soon a stop request is noticed.
IDLE_POLL_MS = 500
BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 10.0
POSITION_TIMEOUT_S = 2.0

RecordHandler = Callable[[ConsumerRecord[bytes, bytes]], Awaitable[None]]


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes that the consumer has joined its group and received an assignment (possibly
    empty: more members than partitions)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.fresh: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass  # nothing buffered: a batch is committed before the next poll

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.fresh = set(assigned)
        self.event.set()


class RecordLoop:
    """Runs `handler` over the records of `topic` read by `consumer` (created without a
    subscription: the loop subscribes it); `request_stop()` finishes the record in hand
    (its offset is committed) and returns."""

    def __init__(
        self,
        *,
        settings: HeraldSettings,
        consumer: AIOKafkaConsumer,
        producer: ProducerHolder,
        handler: RecordHandler,
        name: str,
        topic: str,
        max_records: int,
        concurrent: bool = False,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.handler = handler
        self.name = name
        self.topic = topic_base(topic)  # a bounded metric label
        self.max_records = max_records
        self.concurrent = concurrent
        self._stopping = asyncio.Event()
        self._pending: dict[TopicPartition, int] = {}
        self._joined = _Joined()
        self.consumer.subscribe([topic], listener=self._joined)

    def request_stop(self) -> None:
        self._stopping.set()

    async def ready(self) -> bool:
        """True once the group gave this consumer its partitions and the position of each
        is known: from then on every newly produced record is read (a new group starts at
        the end of the live topic, so a post published earlier would not be)."""
        if not self._joined.event.is_set():
            return False
        for tp in self.consumer.assignment():
            await asyncio.wait_for(self.consumer.position(tp), POSITION_TIMEOUT_S)
        return True

    async def run(self) -> None:
        """Start the consumer (joining its group) and loop until stopped."""
        await self.consumer.start()
        lag = LagTracker(
            self.consumer, service=SERVICE, topic=self.topic, pending=self._pending.get
        )
        lag_task = asyncio.create_task(lag.run(), name=f"lag-{self.name}")
        try:
            while not self._stopping.is_set():
                if self._joined.fresh:
                    await self._anchor(self._joined.fresh)
                polled = await self.consumer.getmany(
                    timeout_ms=IDLE_POLL_MS, max_records=self.max_records
                )
                batches = [(tp, records) for tp, records in polled.items() if records]
                if self.concurrent:
                    await asyncio.gather(
                        *(self._concurrent_batch(tp, records) for tp, records in batches)
                    )
                    continue
                for tp, records in batches:
                    await self._partition_batch(tp, records)
        finally:
            lag_task.cancel()
            await self.consumer.stop()

    async def _anchor(self, fresh: set[TopicPartition]) -> None:
        """Commit the starting position of each newly assigned partition the group has no
        offset for yet. Several processes share the groups: without it, a partition that
        moves to another member before its first record would start there from the
        reset policy again — for the planner (`latest`) that skips whatever was
        produced in between, and a post published then would never be pushed."""
        fresh.clear()
        for tp in self.consumer.assignment():
            if await self.consumer.committed(tp) is None:
                try:
                    position = await asyncio.wait_for(
                        self.consumer.position(tp), POSITION_TIMEOUT_S
                    )
                except TimeoutError:
                    # No leader known for it yet (a topic seconds old, a broker just
                    # lost): anchor it on the next pass instead of ending the loop.
                    log.warning(
                        "push partition position not known yet; anchoring it later",
                        extra={"consumer": self.name, "partition": tp.partition},
                    )
                    fresh.add(tp)
                    continue
                await self._commit(tp, position)

    async def _partition_batch(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        self._pending[tp] = records[0].offset
        try:
            backoff = BACKOFF_FIRST_S
            index = 0
            while index < len(records):
                record = records[index]
                try:
                    await self._handle(record)
                except Exception as exc:
                    # Transient (database, broker): commit what was done, retry the rest.
                    log.exception(
                        "push record failed; retrying",
                        extra={"consumer": self.name, "partition": tp.partition},
                    )
                    # After a failover every pooled connection leads to the old server:
                    # replace them all now rather than fail once per connection.
                    await recycle_after_failover(exc)
                    await self._commit(tp, record.offset)
                    if self._stopping.is_set():
                        return  # the rest is redelivered to whoever consumes next
                    await asyncio.sleep(backoff)
                    backoff = min(BACKOFF_MAX_S, backoff * 2)
                    continue
                backoff = BACKOFF_FIRST_S
                index += 1
                self._pending[tp] = record.offset + 1
            await self._commit(tp, records[-1].offset + 1)
        finally:
            self._pending.pop(tp, None)

    async def _concurrent_batch(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """`_partition_batch` with the records handled at once: after each round the
        partition's offset is committed up to its first record not yet handled, and only
        the failed records are tried again."""
        self._pending[tp] = records[0].offset
        try:
            backoff = BACKOFF_FIRST_S
            todo = records
            while True:
                results = await asyncio.gather(
                    *(self._handle(record) for record in todo), return_exceptions=True
                )
                for result in results:
                    if isinstance(result, BaseException) and not isinstance(result, Exception):
                        raise result  # cancelled: not a handler failure
                todo = [
                    record
                    for record, result in zip(todo, results, strict=True)
                    if isinstance(result, Exception)
                ]
                if not todo:
                    break
                log.error(
                    "push records failed; retrying",
                    exc_info=next(r for r in results if isinstance(r, Exception)),
                    extra={"consumer": self.name, "partition": tp.partition, "failed": len(todo)},
                )
                # Transient (database, broker): commit what was done before the first
                # failure; the later records done beside it are not handled again here.
                self._pending[tp] = todo[0].offset
                await self._commit(tp, todo[0].offset)
                if self._stopping.is_set():
                    return  # the rest is redelivered to whoever consumes next
                await asyncio.sleep(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)
            await self._commit(tp, records[-1].offset + 1)
        finally:
            self._pending.pop(tp, None)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            await self.handler(record)
        except PoisonMessage as exc:
            await self._dead_letter(record, str(exc))
            CONSUMER_RECORDS.labels(
                service=SERVICE, topic=self.topic, outcome="dead_lettered"
            ).inc()
            return
        CONSUMER_RECORDS.labels(service=SERVICE, topic=self.topic, outcome="processed").inc()

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        backoff = BACKOFF_FIRST_S
        while True:
            try:
                await send_to_dlq(
                    self.producer,
                    self.settings,
                    consumer=SERVICE,
                    error=error,
                    source_topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value,
                )
                return
            except KafkaUnavailable:
                # The DLQ is the record's last stop: never commit past it unparked.
                await asyncio.sleep(backoff)
                backoff = min(BACKOFF_MAX_S, backoff * 2)

    async def _commit(self, tp: TopicPartition, next_offset: int) -> None:
        """Commit `next_offset` for `tp`; a failed commit (rebalance, broker away) is logged:
        the records after the last committed offset are redelivered, which handlers
        tolerate (pushes are at-least-once)."""
        try:
            await self.consumer.commit({tp: next_offset})
        except (CommitFailedError, KafkaError) as exc:
            log.warning(
                "offset commit failed; records may be redelivered",
                extra={"consumer": self.name, "partition": tp.partition, "error": str(exc)},
            )
