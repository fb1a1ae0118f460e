"""A failover's errors are transient for the fan-out: its batch is retried (never
isolated, never dead-lettered, however long the outage lasts) and committed once it
applies; a value Postgres refuses still goes to the DLQ at once."""

from __future__ import annotations

import asyncpg
import pytest
from aiokafka import TopicPartition

from services.fanout.consumer.policy import MAX_HANDLER_ATTEMPTS, Attempts, Failure, classify
from shared.db.failover import not_primary, server_lost, unavailable
from shared.topics import POSTS
from tests.unit.fanout.test_consumer_loop import consumer_with, failing_while, run


def server_error(sqlstate: str, message: str) -> asyncpg.PostgresError:
    """The exception asyncpg raises for an ErrorResponse with this SQLSTATE."""
    error: asyncpg.PostgresError = asyncpg.PostgresError.new(
        {"C": sqlstate, "M": message, "S": "ERROR"}
    )
    return error


FAILOVER_ERRORS = [
    server_error("25006", "cannot execute INSERT in a read-only transaction"),
    server_error("57P01", "terminating connection due to administrator command"),
    server_error("57P02", "terminating connection because of crash of another server process"),
    server_error("57P03", "the database system is starting up"),
    server_error("53300", "sorry, too many clients already"),
    server_error("08006", "connection failure"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.InterfaceError("connection is closed"),
    asyncpg.TargetServerAttributeNotMatched("None of the hosts match 'read-write'"),
    asyncpg.InternalClientError("protocol state after a restart"),
    ConnectionResetError("reset by peer"),
    TimeoutError(),
]


@pytest.mark.parametrize("exc", FAILOVER_ERRORS, ids=lambda e: type(e).__name__)
def test_failover_errors_are_unavailable_and_transient(exc: BaseException) -> None:
    assert unavailable(exc)
    assert classify(exc) is Failure.TRANSIENT
    # However many times it happens, a transient failure never gives the batch up.
    attempts = Attempts()
    assert not any(attempts.give_up(classify(exc)) for _ in range(10 * MAX_HANDLER_ATTEMPTS))


@pytest.mark.parametrize(
    "exc",
    [
        server_error("23505", "duplicate key value violates unique constraint"),
        server_error("22P02", "invalid input syntax for type uuid"),
        server_error("25P02", "current transaction is aborted"),
        asyncpg.DataError("invalid input for query argument $1"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_refusals_are_not_taken_for_an_outage(exc: BaseException) -> None:
    assert not unavailable(exc)
    assert classify(exc) is Failure.REFUSED


def test_only_a_read_only_server_counts_as_not_the_primary() -> None:
    assert not_primary(server_error("25006", "cannot execute UPDATE in a read-only transaction"))
    assert not_primary(asyncpg.TargetServerAttributeNotMatched("standby"))
    assert not not_primary(server_error("57P01", "terminating connection"))
    assert not not_primary(ConnectionResetError())


def test_a_lost_server_is_told_from_a_failed_connection_attempt() -> None:
    # Every pooled connection to it is suspect: replace them all.
    for lost in (
        server_error("57P01", "terminating connection due to administrator command"),
        server_error("25006", "cannot execute INSERT in a read-only transaction"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InternalClientError("cannot switch to state 12; another operation is in progress"),
        asyncpg.InterfaceError("connection is closed"),
        ConnectionResetError(),
    ):
        assert server_lost(lost), lost
    # A refused attempt or a slow query says nothing about the connections already open.
    for kept in (
        server_error("53300", "sorry, too many clients already"),
        server_error("57P03", "the database system is starting up"),
        TimeoutError(),
        server_error("23505", "duplicate key value"),
    ):
        assert not server_lost(kept), kept


async def test_a_batch_meeting_a_demoted_primary_is_retried_and_committed_not_dead_lettered() -> (
    None
):
    consumer = consumer_with(3)
    read_only = server_error("25006", "cannot execute INSERT in a read-only transaction")
    # Far more failures than the fault bound: a failover may outlast it.
    handler, dead = await run(consumer, failing_while(3 * MAX_HANDLER_ATTEMPTS, read_only))
    assert dead.letters == []
    assert handler.applied == [0, 1, 2]
    assert consumer.commits == [{TopicPartition(POSTS.name, 0): 3}]


async def test_a_refused_value_is_still_dead_lettered_at_once() -> None:
    consumer = consumer_with(1)
    _handler, dead = await run(
        consumer, failing_while(1, server_error("23514", "violates check constraint"))
    )
    assert [letter["offset"] for letter in dead.letters] == [0]
    assert consumer.commits == [{TopicPartition(POSTS.name, 0): 1}]
