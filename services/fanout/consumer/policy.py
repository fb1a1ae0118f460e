"""Which failures of a batch are retried, for how long, and what a dead letter says.

Three kinds of failure, told apart by `classify`:
- `TRANSIENT`: Postgres unreachable, going away or not the primary (every error of
  `shared.db.failover.unavailable`: a connection cut mid-transaction, `admin_shutdown`,
  `cannot_connect_now`, too many connections, a demoted primary's "read-only
  transaction"), or asking for a retry (serialization failure or deadlock, out of
  resources), the pool closing, Kafka not acknowledging, a timeout. Retried with capped
  backoff for as long as it lasts, with the partitions paused; it never counts towards
  the fault bound and is never dead-lettered, and nothing is committed past it. A
  failover is the typical case: the batch's transaction rolled back with its
  connection, so the retry on a fresh connection applies it whole, once.
- `REFUSED`: Postgres refuses a value (a constraint, a bad input). Retrying cannot help:
  the batch is at once applied one record at a time and the record that still fails is
  dead-lettered.
- `FAULT`: any other exception, i.e. a bug in Herald's code or a record it did not
  foresee. Retried `MAX_HANDLER_ATTEMPTS` times (it may depend on the batch it met),
  then isolated like a refusal.

A dead letter's `error` (`describe`) names the exception class and what failed, never
the exception's message: messages may quote the record (a post body, an account id),
and the DLQ record already keeps the original bytes for whoever may read them.
"""

from __future__ import annotations

import asyncio
import traceback
from dataclasses import dataclass
from enum import StrEnum

import asyncpg
from aiokafka.errors import KafkaError

from shared.db.failover import unavailable
from shared.kafka import KafkaUnavailable

# Postgres error classes worth retrying: connection (08), transaction rollback such as
# serialization failure or deadlock (40), insufficient resources (53), operator
# intervention such as admin shutdown (57), system error (58).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
# Attempts of one batch that fail with a fault before its records are isolated. A few,
# because a fault may depend on the batch (several events of one post, a race the
# handler retries by raising); not many, because a bug raises every time and the
# partitions stay paused meanwhile: with the default backoff, 5 attempts hold a
# partition about 3 seconds before the failing record is found and dead-lettered.
MAX_HANDLER_ATTEMPTS = 5
# A record applied alone after isolation gets one attempt per fault: its batch already
# had MAX_HANDLER_ATTEMPTS, and a batch of 500 bad records must not take 500 backoffs.
ISOLATED_ATTEMPTS = 1


class Failure(StrEnum):
    """The kind of a failure; the value is the bounded `reason` metric label."""

    TRANSIENT = "transient"
    REFUSED = "database_refused"
    FAULT = "handler_error"


def classify(exc: BaseException) -> Failure:
    # First: a lost or demoted server says nothing about the batch, whatever its class
    # (a read-only error's SQLSTATE class 25 would otherwise read as a refusal).
    if unavailable(exc):
        return Failure.TRANSIENT
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", None) or ""
        if state[:2] in TRANSIENT_SQLSTATE_CLASSES:
            return Failure.TRANSIENT
        return Failure.REFUSED
    if isinstance(exc, asyncpg.InterfaceError):
        # Its ValueError subclasses are a value asyncpg cannot encode for Postgres (a
        # refusal before the server saw it); the rest is connection or pool state.
        return Failure.REFUSED if isinstance(exc, ValueError) else Failure.TRANSIENT
    if isinstance(exc, OSError | TimeoutError | KafkaError | KafkaUnavailable):
        return Failure.TRANSIENT
    return Failure.FAULT


@dataclass
class Attempts:
    """Bookkeeping of one batch's (or one isolated record's) failed attempts."""

    limit: int = MAX_HANDLER_ATTEMPTS
    faults: int = 0

    def give_up(self, failure: Failure) -> bool:
        """True when the records should be isolated (or, alone, dead-lettered) now rather
        than retried: at once for a refusal, after `limit` faults, never while transient."""
        if failure is Failure.TRANSIENT:
            return False
        if failure is Failure.REFUSED:
            return True
        self.faults += 1
        return self.faults >= self.limit


def describe(exc: BaseException, failure: Failure, where: str) -> str:
    """A dead letter's `error`: the exception class and what failed, no record content."""
    name = type(exc).__name__
    if failure is Failure.REFUSED:
        state = getattr(exc, "sqlstate", None)
        code = f" (SQLSTATE {state})" if state else ""
        return f"{name}{code}: refused by the database in the {where} handler"
    return f"{name} in the {where} handler"


def frames(exc: BaseException) -> str:
    """Where a fault was raised (file, line, source line of each frame) without its
    message, which may quote the record: what a log line may carry about a bug."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()


class Backoff:
    """Capped exponential waits between attempts: `initial_s`, doubled up to `max_s`."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self.next_s = initial_s

    async def wait(self) -> None:
        await asyncio.sleep(self.next_s)
        self.next_s = min(self.next_s * 2, self.max_s)
