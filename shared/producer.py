"""`ProducerHolder`: one Kafka producer that is replaced by a fresh one after a fatal error.

aiokafka's idempotent producer does not recover from some send errors. It advances a
partition's sequence number when a batch leaves the accumulator, so once a batch fails
with OutOfOrderSequenceNumber (a broker restart can cause it; found by the chaos suite)
every later batch to that partition fails the same way. UnknownProducerId (the broker no
longer knows the producer id, e.g. its records aged out) and ProducerFenced (sent for
InvalidProducerEpoch) do not clear either, and aiokafka neither resets the sequence nor
fetches a new id for a non-transactional producer. Only a new producer id sends there
again, which means a new producer; without one the service answers 503 until restarted.

Contract:
- Callers hold the holder, never an `AIOKafkaProducer`: the producer behind it changes.
- A send whose error is in `FATAL_PRODUCER_ERRORS` (raised by `send`, or set on the
  future `send` returned) marks the producer it came from. The next send stops that
  producer and starts a fresh one built by the same factory (same options). Concurrent
  senders wait on one lock, so one swap happens. A fresh producer that fails to start
  (broker still down) is stopped, the sends waiting behind that start fail with it, and
  the next send tries again. Each start is bounded by `start_timeout_s`.
- Sends are never retried here: the send that met an error fails with it.
- The hot path (nothing marked) awaits no lock and creates no task.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from aiokafka.errors import (
    KafkaConnectionError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)

log = logging.getLogger(__name__)

# Send errors after which this producer id never sends to the partition again (see above).
FATAL_PRODUCER_ERRORS: tuple[type[BaseException], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    ProducerFenced,
)
# A swap lets the old producer flush what it holds for this long before the fresh one
# starts, so records of a healthy partition keep their order when the broker answers; its
# stop goes on in the background after that.
RETIRE_WAIT_S = 1.0


class Producer(Protocol):
    """What the holder uses of an `AIOKafkaProducer` (unit tests pass fakes)."""

    client: Any

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> asyncio.Future[Any]: ...


def is_fatal(exc: BaseException | None) -> bool:
    return isinstance(exc, FATAL_PRODUCER_ERRORS)


class ProducerHolder:
    """Owns the service's producer and replaces it after a fatal send error (see above)."""

    def __init__(
        self,
        factory: Callable[[], Producer],
        *,
        start_timeout_s: float,
    ) -> None:
        self._factory = factory
        self._start_timeout_s = start_timeout_s
        self._producer: Producer | None = None
        self._doomed: Producer | None = None  # the current producer, after a fatal error
        self._open = False
        self._lock = asyncio.Lock()
        self._failed_starts = 0
        self._retiring: set[asyncio.Task[None]] = set()
        self.restarts = 0  # producers started by sends (after a fatal error or failed start)

    async def start(self) -> None:
        """Start the first producer; raises when it does not start within the timeout."""
        self._open = True
        async with self._lock:
            if self._producer is None:
                await self._start_fresh()

    async def stop(self) -> None:
        """Flush and close the producer and any still being retired; later sends raise
        ProducerClosed. Blocks until the producers have flushed (bound it if it matters)."""
        self._open = False
        producer, self._producer = self._producer, None
        if producer is not None:
            self._retire(producer)
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)

    async def send(self, topic: str, value: bytes, *, key: bytes | None = None) -> Any:
        """Queue one record and return its future, which resolves when the broker has
        acknowledged it or fails with the reason. Raises when it cannot be queued."""
        _, future = await self._send(topic, value, key)
        return future

    async def send_and_wait(self, topic: str, value: bytes, *, key: bytes | None = None) -> Any:
        """Send one record and wait for the broker's acknowledgement (unbounded here)."""
        producer, future = await self._send(topic, value, key)
        try:
            return await future
        except Exception as exc:
            # Also here: a future that failed before its callback ran must mark too.
            self._note(producer, exc)
            raise

    async def _send(
        self, topic: str, value: bytes, key: bytes | None
    ) -> tuple[Producer, asyncio.Future[Any]]:
        producer = self._producer
        if producer is None or producer is self._doomed:
            producer = await self._current()
        try:
            future = await producer.send(topic, value, key=key)
        except Exception as exc:
            self._note(producer, exc)
            raise
        future.add_done_callback(functools.partial(self._observe, producer))
        return producer, future

    async def fetch_metadata(self) -> Any:
        """Ask the broker for the cluster's metadata through the running producer's client
        (aiokafka's public `AIOKafkaClient`); raises when no producer is running or the
        broker does not answer. Unbounded here: callers bound it."""
        producer = self._producer
        if producer is None:
            raise KafkaConnectionError("no kafka producer is running")
        return await producer.client.fetch_all_metadata()

    async def _current(self) -> Producer:
        """The producer to send with, after replacing a marked one or starting one that
        failed to start (see the module's contract)."""
        if not self._open:
            raise ProducerClosed()
        failed_starts = self._failed_starts
        async with self._lock:
            producer = self._producer
            if producer is not None and producer is not self._doomed:
                return producer  # another sender swapped it meanwhile
            if producer is None and self._failed_starts != failed_starts:
                # A start failed while this send waited: fail too, don't queue restarts.
                raise KafkaConnectionError("the kafka producer could not be started")
            if producer is not None:
                self._producer = self._doomed = None
                self._retire(producer)
                log.warning("kafka producer replaced after a fatal send error")
            fresh = await self._start_fresh()
            self.restarts += 1
            return fresh

    async def _start_fresh(self) -> Producer:
        """Build and start a producer (the caller holds the lock). A failed or cancelled
        start is counted, its producer stopped in the background, and the error raised."""
        if self._retiring:
            await asyncio.wait(set(self._retiring), timeout=RETIRE_WAIT_S)
        fresh = self._factory()
        try:
            async with asyncio.timeout(self._start_timeout_s):
                await fresh.start()
        except BaseException:
            self._failed_starts += 1
            self._retire(fresh)
            raise
        if not self._open:  # stopped while starting
            self._retire(fresh)
            raise ProducerClosed()
        self._producer = fresh
        return fresh

    def _note(self, producer: Producer, exc: BaseException | None) -> None:
        # Only the current producer can be marked: a late error of a retired one must
        # not send its replacement away too.
        if is_fatal(exc) and producer is self._producer and self._doomed is not producer:
            self._doomed = producer
            log.warning(
                "kafka producer hit a fatal send error; the next send replaces it",
                extra={"error": type(exc).__name__},
            )

    def _observe(self, producer: Producer, future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            self._note(producer, future.exception())

    def _retire(self, producer: Producer) -> None:
        task = asyncio.create_task(producer.stop(), name="kafka-producer-retire")
        self._retiring.add(task)
        task.add_done_callback(self._retired)

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.info("retired kafka producer stopped with an error", extra={"error": str(exc)})
