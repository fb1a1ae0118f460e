"""The pool after a failover, on the real Postgres: once a request met a lost server,
none of the connections opened to it is handed out again, busy or idle; an error that
says nothing about the server (too many connections, a timeout) leaves them alone."""

from __future__ import annotations

import asyncpg

from shared.db.pool import create_pool, recycle_after_failover
from tests.support.databases import terminate_backends
from tests.support.stack import StackSlice


async def _pids(pool: asyncpg.Pool, n: int) -> set[int]:
    """The backend pids of `n` connections held at once."""
    held = [await pool.acquire() for _ in range(n)]
    try:
        return {await conn.fetchval("SELECT pg_backend_pid()") for conn in held}
    finally:
        for conn in held:
            await pool.release(conn)


async def test_after_a_lost_connection_every_acquire_gets_a_live_one(stack: StackSlice) -> None:
    name = "herald-pool-terminated"
    url = f"{stack.database_url}?application_name={name}"
    pool = await create_pool(stack.settings(), url=url, min_size=3, max_size=3)
    admin = await asyncpg.connect(stack.admin_database_url)
    try:
        before = await _pids(pool, 3)
        # The server ends them all; the client has not necessarily noticed yet.
        assert await terminate_backends(admin, name) == 3
        lost = asyncpg.PostgresError.new(
            {"C": "57P01", "M": "terminating connection due to administrator command"}
        )
        # What the HTTP services and the fan-out do with the error of the first request.
        assert await recycle_after_failover(lost)
        for _ in range(6):
            assert await pool.fetchval("SELECT 1") == 1
        assert (await _pids(pool, 3)).isdisjoint(before)
    finally:
        await admin.close()
        await pool.close()


async def test_a_read_only_error_replaces_the_connections_and_an_overload_does_not(
    stack: StackSlice,
) -> None:
    pool = await create_pool(stack.settings(), min_size=2, max_size=2)
    try:
        before = await _pids(pool, 2)
        too_many = asyncpg.PostgresError.new({"C": "53300", "M": "sorry, too many clients"})
        assert not await recycle_after_failover(too_many)
        assert not await recycle_after_failover(TimeoutError())
        assert await _pids(pool, 2) == before
        read_only = asyncpg.PostgresError.new(
            {"C": "25006", "M": "cannot execute INSERT in a read-only transaction"}
        )
        assert await recycle_after_failover(read_only)
        assert (await _pids(pool, 2)).isdisjoint(before)
    finally:
        await pool.close()
