"""`ProducerHolder`'s swap logic, with fake producers (the real broker: foundation tests).

What a user would notice: after a fatal send error (a broker restart can cause one) the
service sends again instead of answering 503 until restarted; ordinary errors (timeouts,
a broker briefly away) do not throw the producer away; a restart that fails while the
broker is still down is tried again on the next send.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotEnoughReplicasError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RequestTimedOutError,
    UnknownProducerId,
)

from shared.producer import ProducerHolder


class FakeProducer:
    """Acks every record at once, unless `fail_acks` / `fail_sends` say otherwise."""

    def __init__(self, *, start_error: BaseException | None = None) -> None:
        self.client: Any = None
        self.start_error = start_error
        self.hang_on_start = False
        self.started = False
        self.stopped = False
        self.sent: list[bytes] = []
        self.fail_acks: list[BaseException] = []  # the next acks fail with these
        self.fail_sends: list[BaseException] = []  # the next sends raise these
        self.held: list[asyncio.Future[Any]] = []  # futures left pending (`hold` mode)
        self.hold = False

    async def start(self) -> None:
        # Yield a few times: concurrent senders pile up on the holder's lock meanwhile.
        for _ in range(3):
            await asyncio.sleep(0)
        if self.hang_on_start:
            await asyncio.Event().wait()
        if self.start_error is not None:
            raise self.start_error
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self, topic: str, value: bytes | None = None, key: bytes | None = None
    ) -> asyncio.Future[Any]:
        if self.fail_sends:
            raise self.fail_sends.pop(0)
        self.sent.append(value or b"")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.hold:
            self.held.append(future)
        elif self.fail_acks:
            future.set_exception(self.fail_acks.pop(0))
        else:
            future.set_result(len(self.sent))
        return future


class Factory:
    """Builds fake producers; the next `failing_starts` of them fail to start."""

    def __init__(self) -> None:
        self.made: list[FakeProducer] = []
        self.failing_starts = 0
        self.hanging_starts = 0

    def __call__(self) -> FakeProducer:
        producer = FakeProducer()
        if self.failing_starts:
            self.failing_starts -= 1
            producer.start_error = KafkaConnectionError("broker still down")
        elif self.hanging_starts:
            self.hanging_starts -= 1
            producer.hang_on_start = True
        self.made.append(producer)
        return producer


async def started() -> tuple[ProducerHolder, Factory]:
    factory = Factory()
    holder = ProducerHolder(factory, start_timeout_s=5)
    await holder.start()
    return holder, factory


@pytest.mark.parametrize(
    "fatal", [OutOfOrderSequenceNumber(), UnknownProducerId(), ProducerFenced()]
)
async def test_a_fatal_ack_error_swaps_the_producer_once_for_concurrent_senders(
    fatal: BaseException,
) -> None:
    holder, factory = await started()
    first = factory.made[0]
    first.fail_acks.append(fatal)
    with pytest.raises(type(fatal)):
        await holder.send_and_wait("t", b"lost")

    results = await asyncio.gather(*(holder.send_and_wait("t", b"%d" % n) for n in range(10)))

    assert len(factory.made) == 2  # one swap, not one per sender
    assert first.stopped
    fresh = factory.made[1]
    assert fresh.started and not fresh.stopped
    assert sorted(fresh.sent) == sorted(b"%d" % n for n in range(10))
    assert sorted(results) == list(range(1, 11))
    assert holder.restarts == 1
    await holder.stop()


async def test_a_fatal_error_raised_by_send_itself_also_swaps() -> None:
    holder, factory = await started()
    factory.made[0].fail_sends.append(OutOfOrderSequenceNumber())
    with pytest.raises(OutOfOrderSequenceNumber):
        await holder.send("t", b"lost")

    await holder.send_and_wait("t", b"sent")

    assert len(factory.made) == 2
    assert factory.made[1].sent == [b"sent"]
    await holder.stop()


@pytest.mark.parametrize(
    "error",
    [KafkaTimeoutError(), RequestTimedOutError(), NotEnoughReplicasError(), KafkaConnectionError()],
)
async def test_ordinary_errors_keep_the_producer(error: BaseException) -> None:
    holder, factory = await started()
    factory.made[0].fail_acks.append(error)
    factory.made[0].fail_sends.append(error)
    with pytest.raises(type(error)):
        await holder.send_and_wait("t", b"a")
    with pytest.raises(type(error)):
        await holder.send_and_wait("t", b"b")

    await holder.send_and_wait("t", b"c")

    assert len(factory.made) == 1
    assert factory.made[0].sent == [b"b", b"c"]
    await holder.stop()


async def test_a_failed_restart_is_tried_again_by_the_next_send() -> None:
    holder, factory = await started()
    factory.made[0].fail_acks.append(OutOfOrderSequenceNumber())
    with pytest.raises(OutOfOrderSequenceNumber):
        await holder.send_and_wait("t", b"lost")
    factory.failing_starts = 1

    # Senders waiting behind the failed start fail with it: one start attempt, not five.
    outcomes = await asyncio.gather(
        *(holder.send_and_wait("t", b"x") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(o, KafkaConnectionError) for o in outcomes)
    assert len(factory.made) == 2
    assert factory.made[1].stopped  # the one that failed to start holds no connections

    await holder.send_and_wait("t", b"back")

    assert len(factory.made) == 3
    assert factory.made[2].sent == [b"back"]
    await holder.stop()


async def test_a_start_that_hangs_fails_within_the_start_timeout() -> None:
    factory = Factory()
    factory.hanging_starts = 1
    holder = ProducerHolder(factory, start_timeout_s=0.01)
    with pytest.raises(TimeoutError):
        await holder.start()

    await holder.send_and_wait("t", b"later")

    assert factory.made[0].stopped
    assert factory.made[1].sent == [b"later"]
    await holder.stop()


async def test_a_late_fatal_error_of_a_replaced_producer_leaves_its_successor_alone() -> None:
    holder, factory = await started()
    old = factory.made[0]
    old.hold = True
    pending = await holder.send("t", b"in flight")
    old.hold = False
    old.fail_acks.append(OutOfOrderSequenceNumber())
    with pytest.raises(OutOfOrderSequenceNumber):
        await holder.send_and_wait("t", b"lost")
    await holder.send_and_wait("t", b"first on the new one")

    old.held[0].set_exception(OutOfOrderSequenceNumber())
    with pytest.raises(OutOfOrderSequenceNumber):
        await pending
    await holder.send_and_wait("t", b"second on the new one")

    assert len(factory.made) == 2
    assert factory.made[1].sent == [b"first on the new one", b"second on the new one"]
    await holder.stop()


async def test_stop_closes_the_producer_and_later_sends_fail() -> None:
    holder, factory = await started()
    await holder.stop()

    with pytest.raises(ProducerClosed):
        await holder.send("t", b"too late")

    assert factory.made[0].stopped
    assert len(factory.made) == 1
