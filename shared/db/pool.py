"""The asyncpg pool every service uses: JSON codecs, UTC sessions, bounded start-up wait.

Released connections are not reset by default. asyncpg's reset runs
`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` on every release: one more
round trip for every request of every service, for session state Herald's
queries do not leave behind: no `SET` (only `SET LOCAL`, which ends with its
transaction), no `LISTEN`, no temporary tables or open cursors. asyncpg still rolls back
a transaction left open and drops listeners on release either way. The exception is
session-level advisory locks, taken by the migration (at start-up, in a process that
exits if it fails) and by retention's run lock: a pool whose users take such locks asks
for the reset (`session_state=True`), so a lock whose unlock was cancelled or timed out
is never handed on with its connection.
"""

from __future__ import annotations

import asyncio

import asyncpg
import orjson

from shared.metrics.common import DB_POOL_CONNECTIONS
from shared.retry import retry_until
from shared.settings import HeraldSettings

# Statements run far under this; a hung one must fail the request instead of holding it.
COMMAND_TIMEOUT_S = 30.0


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Nothing of the session to undo (see the module doc)."""


async def create_pool(
    settings: HeraldSettings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    session_state: bool = False,
) -> asyncpg.Pool:
    """Connect, retrying with backoff until `settings.startup_timeout_s` has passed.
    `session_state`: its users take session-level advisory locks, so released
    connections get asyncpg's full reset (see the module doc)."""

    async def connect() -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            settings.database_url,
            min_size=min_size or settings.db_pool_min,
            max_size=max_size or settings.db_pool_max,
            command_timeout=COMMAND_TIMEOUT_S,
            init=_init_connection,
            # None: asyncpg's own reset query; else asyncpg's rollback of an open
            # transaction only.
            reset=None if session_state else _no_reset,
            server_settings={"timezone": "UTC", "application_name": "herald"},
        )
        return pool

    return await retry_until(
        settings.startup_timeout_s,
        connect,
        retry_on=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError),
        what="postgres",
    )


async def postgres_reachable(pool: asyncpg.Pool, timeout_s: float = 2.0) -> bool:
    """True when a pooled connection answers `SELECT 1` within `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
    except Exception:
        return False
    return True


def observe_pool(pool: asyncpg.Pool, service: str) -> None:
    """Publish the pool's in-use and idle connection counts (call before each scrape)."""
    size = pool.get_size()
    idle = pool.get_idle_size()
    DB_POOL_CONNECTIONS.labels(service=service, state="in_use").set(size - idle)
    DB_POOL_CONNECTIONS.labels(service=service, state="idle").set(idle)
