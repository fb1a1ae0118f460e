"""The batch consumer loop against a fake consumer, handler and DLQ: commit only after
the write, partitions paused while retrying, a bad record isolated and dead-lettered
with its error class while the rest of its batch commits, bounded attempts on a bug,
and batches that go without waiting for a timer when the system is idle."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY

from services.fanout.config import FanoutSettings
from services.fanout.consumer.loop import IDLE_POLL_MS, BatchConsumer
from services.fanout.consumer.policy import MAX_HANDLER_ATTEMPTS
from services.fanout.consumer.records import Record
from shared.events import POST_EVENTS
from shared.kafka import KafkaUnavailable
from shared.producer import ProducerHolder
from shared.topics import POSTS
from tests.integration.fanout.helpers import published
from tests.unit.fanout.fakes import (
    FailureScript,
    FakeConsumer,
    FakeDeadLetters,
    FakeHandler,
    settings,
)

TOPIC = POSTS.name
TP = TopicPartition(TOPIC, 0)
SECRET = "a post body that must not leave the log record"
# The fake DLQ sends nothing: the loop only passes its producer through.
NO_PRODUCER = cast(ProducerHolder, object())


def consumer_with(n: int, partitions: int = 1) -> FakeConsumer:
    """A fake consumer whose log holds `n` post events per partition."""
    consumer = FakeConsumer(TOPIC, partitions)
    channel_id = uuid4()
    key = str(channel_id).encode()
    for partition in range(partitions):
        for _ in range(n):
            consumer.append(published(channel_id, SECRET).encode(), key, partition)
    return consumer


async def run(
    consumer: FakeConsumer,
    fail: FailureScript = lambda records, call: None,
    config: FanoutSettings | None = None,
    dlq_failures: Sequence[BaseException] = (),
) -> tuple[FakeHandler, FakeDeadLetters]:
    """Run the loop until the log is consumed, and return what the handler and DLQ saw."""
    handler = FakeHandler(consumer, fail)
    dead = FakeDeadLetters(consumer, list(dlq_failures))
    loop = BatchConsumer(
        settings=config or settings(),
        consumer=consumer,
        producer=NO_PRODUCER,
        registry=POST_EVENTS,
        handler=handler,
        name=TOPIC,
        dead_letters=dead,
    )
    consumer.on_idle = loop.request_stop
    # A guard against a loop that never ends, not a timing assertion.
    await asyncio.wait_for(loop.run(), 10)
    return handler, dead


def failing_while(calls: int, exc: BaseException) -> FailureScript:
    return lambda records, call: exc if call <= calls else None


def failing_on(offset: int, exc: BaseException) -> FailureScript:
    return lambda records, call: exc if any(r.offset == offset for r in records) else None


def failed_total(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "herald_fanout_records_failed_total", {"topic": TOPIC, "reason": reason}
    )
    return value or 0.0


async def test_a_failing_write_commits_nothing_and_success_commits_offset_plus_one() -> None:
    consumer = consumer_with(3)
    handler, _ = await run(consumer, failing_while(2, ConnectionRefusedError("db down")))
    assert handler.calls == [[0, 1, 2]] * 3
    assert handler.committed_at_call == [{}, {}, {}]
    assert handler.applied == [0, 1, 2]
    assert consumer.commits == [{TP: 3}]
    assert handler.after_commit_ran == [[0, 1, 2]]


async def test_each_partition_commits_the_offset_after_its_last_record_of_the_batch() -> None:
    consumer = consumer_with(2, partitions=2)
    await run(consumer)
    assert consumer.committed() == {TP: 2, TopicPartition(TOPIC, 1): 2}


async def test_partitions_are_paused_while_a_transient_failure_is_retried_then_resumed() -> None:
    consumer = consumer_with(2, partitions=2)
    handler, _ = await run(consumer, failing_while(3, TimeoutError()))
    everything = set(consumer.tps)
    # The first attempt fails with the partitions still flowing; every retry is paused.
    assert handler.paused_at_call == [set(), everything, everything, everything]
    assert consumer.paused() == set()
    assert not consumer.polled_while_paused
    assert consumer.committed() == {tp: 2 for tp in everything}


async def test_one_bad_record_goes_to_the_dlq_with_its_error_class_and_the_rest_commits() -> None:
    consumer = consumer_with(3)
    before = failed_total("handler_error")
    handler, dead = await run(consumer, failing_on(1, KeyError(SECRET)))
    assert [(d["offset"], d["error"]) for d in dead.letters] == [
        (1, f"KeyError in the {TOPIC} handler")
    ]
    assert all(SECRET not in d["error"] for d in dead.letters)
    assert sorted(handler.applied) == [0, 2]
    assert consumer.commits == [{TP: 3}]
    # The DLQ had the record before its offset was committed past.
    assert dead.committed_at_send == [{}]
    assert failed_total("handler_error") == before + 1
    # The records applied alone still get their after-commit step (live events).
    assert sorted(handler.after_commit_ran) == [[0], [2]]


async def test_a_record_failing_every_time_ends_in_the_dlq_after_bounded_attempts() -> None:
    consumer = consumer_with(1)
    handler, dead = await run(consumer, failing_on(0, KeyError("channel_id")))
    assert len(handler.calls) == MAX_HANDLER_ATTEMPTS
    assert [d["offset"] for d in dead.letters] == [0]
    assert consumer.commits == [{TP: 1}]


async def test_a_bug_in_a_batch_costs_bounded_attempts_then_one_per_record() -> None:
    consumer = consumer_with(4)
    handler, dead = await run(consumer, failing_on(2, TypeError("unsupported operand")))
    with_bad = [call for call in handler.calls if 2 in call]
    assert len(with_bad) == MAX_HANDLER_ATTEMPTS + 1
    assert [d["error"] for d in dead.letters] == [f"TypeError in the {TOPIC} handler"]
    assert sorted(handler.applied) == [0, 1, 3]


async def test_a_value_the_database_refuses_is_isolated_at_once() -> None:
    consumer = consumer_with(3)
    refused = asyncpg.exceptions.CheckViolationError(f"value {SECRET} violates a check")
    before = failed_total("database_refused")
    handler, dead = await run(consumer, failing_on(0, refused))
    assert handler.calls == [[0, 1, 2], [0], [1], [2]]
    assert [d["error"] for d in dead.letters] == [
        f"CheckViolationError (SQLSTATE 23514): refused by the database in the {TOPIC} handler"
    ]
    assert sorted(handler.applied) == [1, 2]
    assert failed_total("database_refused") == before + 1


async def test_a_transient_failure_never_dead_letters_however_long_it_lasts() -> None:
    consumer = consumer_with(2)
    outage = 4 * MAX_HANDLER_ATTEMPTS
    handler, dead = await run(consumer, failing_while(outage, ConnectionResetError()))
    assert len(handler.calls) == outage + 1
    assert dead.letters == []
    assert handler.applied == [0, 1]


async def test_poison_is_dead_lettered_and_the_dlq_retried_until_the_broker_acknowledges() -> None:
    consumer = consumer_with(1)
    consumer.append(b"{not json")
    handler, dead = await run(consumer, dlq_failures=[KafkaUnavailable("no broker")] * 2)
    assert handler.applied == [0]
    assert [(d["offset"], d["error"].split(":")[0]) for d in dead.letters] == [(1, "not JSON")]
    assert dead.committed_at_send == [{}, {}, {}]
    assert consumer.commits == [{TP: 2}]


async def test_an_idle_consumer_takes_what_is_fetched_without_waiting_for_a_timer() -> None:
    consumer = consumer_with(3)
    polls_at_call: list[list[int]] = []

    def note(records: Sequence[Record], call: int) -> None:
        polls_at_call.append(list(consumer.poll_timeouts_ms))

    await run(consumer, note, settings(batch_max_records=10, batch_max_wait_s=5.0))
    # One poll that waits for the first record, then only polls that return at once.
    assert polls_at_call == [[IDLE_POLL_MS, 0]]


async def test_under_load_a_batch_lingers_for_more_after_a_full_one() -> None:
    consumer = consumer_with(5)
    polls_at_call: list[list[int]] = []

    def note(records: Sequence[Record], call: int) -> None:
        polls_at_call.append(list(consumer.poll_timeouts_ms))

    handler, _ = await run(consumer, note, settings(batch_max_records=2, batch_max_wait_s=5.0))
    assert handler.calls == [[0, 1], [2, 3], [4]]
    last = polls_at_call[-1][len(polls_at_call[-2]) :]
    # The batch after a full one drains the buffer, then waits (for at most the batch
    # window) for more before it goes.
    assert last[:2] == [IDLE_POLL_MS, 0] and all(t > 0 for t in last[2:]) and last[2:]


@pytest.mark.parametrize("calls", [1, 2])
async def test_the_handler_sees_each_record_in_log_order(calls: int) -> None:
    consumer = consumer_with(4)
    handler, _ = await run(consumer, failing_while(calls - 1, OSError()))
    assert handler.applied == [0, 1, 2, 3]
