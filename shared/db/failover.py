"""What a lost or demoted Postgres looks like from asyncpg, in one place.

A failover (the primary killed or demoted, a router cutting sessions, a server restart)
reaches a service as one of a handful of errors. Every caller treats them alike: the work
failed for a reason that time cures, so an HTTP request answers 503 with `Retry-After`,
and a consumer retries its batch with backoff without ever dead-lettering it. The
classification here is what they share, so an HTTP service and the fan-out can never
disagree about whether "the server is read-only" is the caller's fault.

Unavailable (`unavailable`):
- no connection: refused, reset, unresolvable or timed out (`ConnectionError`,
  `socket.gaierror`, `TimeoutError`), every SQLSTATE of class 08 (connection
  exception), asyncpg's closed-connection and pool-state errors;
- the server is going away or not taking work: 57P01 `admin_shutdown` (a fast shutdown
  or `pg_terminate_backend`), 57P02 `crash_shutdown`, 57P03 `cannot_connect_now` (still
  starting, or in recovery), 53300 `too_many_connections` (a new primary filling up as
  every client reconnects at once);
- the server is not (or no longer) the primary: 25006 `read_only_sql_transaction`
  ("cannot execute … in a read-only transaction"), and asyncpg's
  `TargetServerAttributeNotMatched` when a new connection lands on a standby;
- asyncpg's `InternalClientError` family: seen when a pooled connection's previous
  operation was cut off by a server restart.

Of these, `server_lost` are the ones that also condemn the other connections to the
same server (the pool replaces them all, see `shared.db.pool.recycle_after_failover`).

Not unavailable: anything else Postgres answers (a constraint, a bad value, a
serialization failure — the latter is retryable, but it is a property of the work, not of
the server, and callers that retry it do so on their own terms).
"""

from __future__ import annotations

import socket

import asyncpg

# Exception classes that always mean "no usable database right now". `asyncpg.
# PostgresConnectionError` covers SQLSTATE class 08, including asyncpg's own
# `ConnectionDoesNotExistError` for a connection closed mid-query.
# Not every OSError: a media file missing on disk is no database outage.
UNAVAILABLE_TYPES: tuple[type[Exception], ...] = (
    ConnectionError,
    socket.gaierror,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.InternalClientError,
)
# SQLSTATEs with the same meaning, for errors asyncpg reports under another class (an
# `UnknownPostgresError`, or a subclass added by a newer server).
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300", "25006"})
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08"})
READ_ONLY_SQLSTATE = "25006"


def unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database is unreachable, going away or not the primary:
    retry later on a fresh connection; the work itself is not at fault."""
    if isinstance(exc, UNAVAILABLE_TYPES):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        # Its ValueError subclasses (`DataError`, `ClientConfigurationError`) are a value
        # or setting asyncpg refused before the server saw it; the rest is connection or
        # pool state ("connection is closed", "pool is closing").
        return not isinstance(exc, ValueError)
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state in UNAVAILABLE_SQLSTATES or state[:2] in UNAVAILABLE_SQLSTATE_CLASSES
    return False


# Errors saying the server a pooled connection led to went away: a connection cut (class
# 08), an administrator's or a crash's shutdown, asyncpg's closed-connection and protocol
# errors. Not among them: errors of a connection attempt (too many connections, still
# starting), which leave the pooled connections as they were, and timeouts (a slow query).
_LOST_TYPES: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InternalClientError,
)


def server_lost(exc: BaseException) -> bool:
    """True when `exc` says the server behind a connection is gone or not the primary
    any more: every other connection opened to it is suspect too, so a pool is better
    off replacing them all at once than failing one request per connection."""
    if not_primary(exc) or isinstance(exc, _LOST_TYPES):
        return True
    return isinstance(exc, asyncpg.InterfaceError) and not isinstance(exc, ValueError)


def not_primary(exc: BaseException) -> bool:
    """True when `exc` says the server a connection reached is a standby (or fenced
    read-only): every connection opened to it before is suspect, not only this one."""
    if isinstance(exc, asyncpg.TargetServerAttributeNotMatched):
        return True
    return isinstance(exc, asyncpg.PostgresError) and exc.sqlstate == READ_ONLY_SQLSTATE
