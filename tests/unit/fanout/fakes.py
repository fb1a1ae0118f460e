"""In-memory stand-ins for what the batch consumer talks to: the few `AIOKafkaConsumer`
methods its loop calls, a handler whose failures a test scripts, and a DLQ sink. No
broker, no database: the loop's own rules (commit after write, pause while retrying,
isolation, bounded attempts, batching) are what the tests observe."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from services.fanout.config import FanoutSettings
from services.fanout.consumer.records import Outcome, Record
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings


def settings(batch_max_records: int = 500, batch_max_wait_s: float = 0.1) -> FanoutSettings:
    """Fan-out settings with backoff short enough that retries cost nothing here."""
    return FanoutSettings(
        namespace="",
        HERALD_FANOUT_BATCH_MAX_RECORDS=batch_max_records,
        HERALD_FANOUT_BATCH_MAX_WAIT_S=batch_max_wait_s,
        HERALD_FANOUT_RETRY_INITIAL_S=0.001,
        HERALD_FANOUT_RETRY_MAX_S=0.002,
    )


@dataclass(frozen=True)
class Message:
    offset: int
    key: bytes | None
    value: bytes | None


class FakeConsumer:
    """The consumer surface the loop uses, over an in-memory log per partition. Every
    message in the log counts as fetched (in aiokafka's buffer) already."""

    def __init__(self, topic: str, partitions: int = 1) -> None:
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]
        self.log: dict[TopicPartition, list[Message]] = {tp: [] for tp in self.tps}
        self.position_of: dict[TopicPartition, int] = dict.fromkeys(self.tps, 0)
        self._paused: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.poll_timeouts_ms: list[int] = []
        self.polled_while_paused = False
        # Called when a poll that may wait finds nothing left: the test's cue to stop.
        self.on_idle: Callable[[], None] | None = None

    def append(self, value: bytes | None, key: bytes | None = None, partition: int = 0) -> None:
        messages = self.log[self.tps[partition]]
        messages.append(Message(len(messages), key, value))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Message]]:
        self.poll_timeouts_ms.append(timeout_ms)
        self.polled_while_paused |= bool(self._paused)
        room = max_records if max_records is not None else 500
        out: dict[TopicPartition, list[Message]] = {}
        for tp in self.tps:
            if tp in self._paused or room == 0:
                continue
            start = self.position_of[tp]
            taken = self.log[tp][start : start + room]
            if taken:
                out[tp] = taken
                self.position_of[tp] += len(taken)
                room -= len(taken)
        if not out:
            if timeout_ms > 0 and self.on_idle is not None:
                self.on_idle()
            await asyncio.sleep(0)
        return out

    def assignment(self) -> set[TopicPartition]:
        return set(self.tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused -= set(partitions)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def committed(self) -> dict[TopicPartition, int]:
        """The latest committed offset per partition."""
        latest: dict[TopicPartition, int] = {}
        for commit in self.commits:
            latest.update(commit)
        return latest

    async def end_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.log[tp]) for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.position_of[tp]


# Decides, per call, what the handler raises (None: the batch applies).
FailureScript = Callable[[Sequence[Record], int], BaseException | None]


@dataclass
class FakeHandler:
    """A handler that 'writes' a batch by remembering its offsets, unless `fail` says to
    raise; it notes what the consumer had committed and paused at each call."""

    consumer: FakeConsumer
    fail: FailureScript = lambda records, call: None
    calls: list[list[int]] = field(default_factory=list)
    applied: list[int] = field(default_factory=list)
    committed_at_call: list[dict[TopicPartition, int]] = field(default_factory=list)
    paused_at_call: list[set[TopicPartition]] = field(default_factory=list)
    after_commit_ran: list[list[int]] = field(default_factory=list)

    async def __call__(self, records: Sequence[Record]) -> Outcome:
        offsets = [r.offset for r in records]
        self.calls.append(offsets)
        self.committed_at_call.append(self.consumer.committed())
        self.paused_at_call.append(self.consumer.paused())
        exc = self.fail(records, len(self.calls))
        if exc is not None:
            raise exc
        self.applied.extend(offsets)

        async def after() -> None:
            self.after_commit_ran.append(offsets)

        return Outcome(after_commit=after)


@dataclass
class FakeDeadLetters:
    """A DLQ sink with `send_to_dlq`'s signature; raises `failures` first, then parks."""

    consumer: FakeConsumer
    failures: list[BaseException] = field(default_factory=list)
    letters: list[dict[str, Any]] = field(default_factory=list)
    committed_at_send: list[dict[TopicPartition, int]] = field(default_factory=list)

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
    ) -> None:
        self.committed_at_send.append(self.consumer.committed())
        if self.failures:
            raise self.failures.pop(0)
        self.letters.append(
            {"consumer": consumer, "error": error, "topic": source_topic, "offset": offset}
        )
