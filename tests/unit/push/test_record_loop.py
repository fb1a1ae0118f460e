"""The push service's committed consumer loop (services.push.consumer) with a fake
consumer: offsets are committed only past handled or dead-lettered records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from services.push import consumer as consumer_module
from services.push.consumer import RecordLoop
from shared.events.envelope import PoisonMessage
from shared.settings import HeraldSettings

TOPIC = "herald.push.v1"
TP = TopicPartition(TOPIC, 0)


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, b"k", value, None, 1, len(value), [])


class FakeConsumer:
    """Hands out the given batches once each, then nothing; records commits."""

    def __init__(self, batches: list[list[ConsumerRecord[bytes, bytes]]]) -> None:
        self.batches = batches
        self.commits: list[int] = []
        # Set when polled after the last batch: every batch was processed by then.
        self.drained = asyncio.Event()

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        self.listener.on_partitions_assigned([TP])

    async def stop(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def position(self, tp: TopicPartition) -> int:
        return 0

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        if self.batches:
            return {TP: self.batches.pop(0)}
        self.drained.set()
        await asyncio.sleep(0.01)
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets[TP])

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.commits[-1] if self.commits else self.start_committed

    start_committed: int | None = 0


async def run_loop(
    fake: FakeConsumer, handler: Any, monkeypatch: pytest.MonkeyPatch, *, concurrent: bool = False
) -> list[tuple[int, str]]:
    dead: list[tuple[int, str]] = []

    async def to_dlq(*_: Any, offset: int, error: str, **__: Any) -> None:
        dead.append((offset, error))

    monkeypatch.setattr(consumer_module, "send_to_dlq", to_dlq)
    monkeypatch.setattr(consumer_module, "BACKOFF_FIRST_S", 0.001)
    loop = RecordLoop(
        settings=HeraldSettings(),
        consumer=fake,
        producer=None,  # type: ignore[arg-type]
        handler=handler,
        name="test",
        topic=TOPIC,
        max_records=10,
        concurrent=concurrent,
    )
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(fake.drained.wait(), 5)
    assert await loop.ready()
    loop.request_stop()
    await asyncio.wait_for(task, 5)
    return dead


async def test_commits_after_the_batch_and_dead_letters_poison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handled: list[int] = []

    async def handler(r: ConsumerRecord[bytes, bytes]) -> None:
        if r.value == b"poison":
            raise PoisonMessage("not a shard")
        handled.append(r.offset)

    fake = FakeConsumer([[record(5, b"a"), record(6, b"poison"), record(7, b"b")]])
    dead = await run_loop(fake, handler, monkeypatch)
    assert handled == [5, 7]
    assert dead == [(6, "not a shard")]
    assert fake.commits == [8]


async def test_a_failing_record_is_retried_and_nothing_past_it_is_committed_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    async def handler(r: ConsumerRecord[bytes, bytes]) -> None:
        calls.append(r.offset)
        if r.offset == 11 and calls.count(11) < 3:
            raise ConnectionError("database away")

    fake = FakeConsumer([[record(10, b"a"), record(11, b"b"), record(12, b"c")]])
    dead = await run_loop(fake, handler, monkeypatch)
    # Record 10 is not handled again; 11 until it succeeds; then 12.
    assert calls == [10, 11, 11, 11, 12]
    assert dead == []
    # While 11 failed, only what was done (up to 11) was committed.
    assert fake.commits == [11, 11, 13]


async def test_concurrent_records_overlap_and_offsets_pass_only_handled_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sender's mode: a batch's shards are in hand together (a slow one does not hold
    the others back); a failed one is retried alone, the offset never passes it before it
    succeeded, and poison still goes to the DLQ."""
    calls: list[int] = []
    in_hand = 0
    most_in_hand = 0

    async def handler(r: ConsumerRecord[bytes, bytes]) -> None:
        nonlocal in_hand, most_in_hand
        calls.append(r.offset)
        in_hand += 1
        most_in_hand = max(most_in_hand, in_hand)
        try:
            await asyncio.sleep(0.01)
            if r.value == b"poison":
                raise PoisonMessage("not a shard")
            if r.offset == 21 and calls.count(21) < 3:
                raise ConnectionError("database away")
        finally:
            in_hand -= 1

    batch = [record(20, b"a"), record(21, b"b"), record(22, b"poison"), record(23, b"c")]
    fake = FakeConsumer([batch])
    dead = await run_loop(fake, handler, monkeypatch, concurrent=True)
    assert most_in_hand == 4
    # 20, 22 and 23 once each; 21 until it succeeds.
    assert sorted(calls) == [20, 21, 21, 21, 22, 23]
    assert dead == [(22, "not a shard")]
    # While 21 failed, only 20 was committed past; then the whole batch.
    assert fake.commits == [21, 21, 24]


async def test_a_partition_assigned_without_an_offset_gets_its_start_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two push processes share the planner's group, which starts at the end of the live
    topic: the start position is committed on assignment, so a partition that moves to
    the other process later resumes there instead of skipping to the end again."""

    async def handler(r: ConsumerRecord[bytes, bytes]) -> None:
        pass

    fake = FakeConsumer([[record(40, b"a")]])
    fake.start_committed = None
    await run_loop(fake, handler, monkeypatch)
    assert fake.commits == [0, 41]  # position() of the fake is 0


async def test_a_position_not_known_yet_is_anchored_on_a_later_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a topic seconds old (or with a broker just lost) a partition's position may take
    longer than the lookup allows: the loop keeps running and anchors it when known."""

    class SlowFirstPosition(FakeConsumer):
        calls = 0

        async def position(self, tp: TopicPartition) -> int:
            self.calls += 1
            if self.calls == 1:
                await asyncio.sleep(1)  # past POSITION_TIMEOUT_S, patched below
            return 0

    async def handler(r: ConsumerRecord[bytes, bytes]) -> None:
        pass

    monkeypatch.setattr(consumer_module, "POSITION_TIMEOUT_S", 0.01)
    fake = SlowFirstPosition([[], [record(40, b"a")]])
    fake.start_committed = None
    await run_loop(fake, handler, monkeypatch)
    # The start was committed on the second pass, then the record; the loop never died.
    assert fake.commits == [0, 41]
