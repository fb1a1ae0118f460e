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

Failover. A primary pool (the default) connects with `target_session_attrs=read-write`:
asyncpg accepts a new connection only from a server that takes writes (it reads the
`in_hot_standby` and `default_transaction_read_only` the server reports at start-up, so
this costs no round trip), which keeps a pool from filling with connections to a standby
that a router still pointed at for a moment after a failover. asyncpg replaces by itself
a pooled connection the server closed (`acquire` reconnects a holder whose connection
`is_closed()`, and `release` discards one closed mid-query); a connection broken in use
fails that one operation (a 503 or a retried batch, see `shared.db.failover`). Two
things it does not see: a connection still open to a server that stopped being the
primary, and connections whose end the server announced an instant ago (right after
`pg_terminate_backend` or a failover, each idle connection fails one more operation with
an `InternalClientError` before asyncpg notices it closed). So after an error that means
the server is gone or demoted, `recycle_after_failover` expires every pool of the
process: each connection is replaced (and re-checked) at its next acquire, and one
request answers 503 instead of one per pooled connection.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlsplit

import asyncpg
import orjson

from shared.db.failover import server_lost
from shared.metrics.common import DB_POOL_CONNECTIONS
from shared.retry import retry_until
from shared.settings import HeraldSettings

# Statements run far under this; a hung one must fail the request instead of holding it.
COMMAND_TIMEOUT_S = 30.0
# The open pools of this process, for `recycle_after_failover`. asyncpg's Pool takes no
# weak reference: closed ones are dropped whenever a pool is added.
_POOLS: set[asyncpg.Pool] = set()
log = logging.getLogger(__name__)
# Retried at start besides connection errors: only a standby answers while a primary is
# being elected.
_STARTING: tuple[type[Exception], ...] = (asyncpg.TargetServerAttributeNotMatched,)


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
    url: str | None = None,
    primary: bool = True,
) -> asyncpg.Pool:
    """Connect, retrying with backoff until `settings.startup_timeout_s` has passed.
    `session_state`: its users take session-level advisory locks, so released
    connections get asyncpg's full reset (see the module doc). `url`: another server
    than `settings.database_url` (a replica). `primary=False`: its users only read, so
    any server will do, a standby included. A `target_session_attrs` or
    `application_name` in the URL's query wins over Herald's choice."""
    dsn = url or settings.database_url
    query = parse_qs(urlsplit(dsn).query)
    server_settings = {"timezone": "UTC"}
    if "application_name" not in query:
        server_settings["application_name"] = "herald" if primary else "herald-read"
    target: dict[str, str] = {}
    if "target_session_attrs" not in query:
        target["target_session_attrs"] = "read-write" if primary else "any"

    async def connect() -> asyncpg.Pool:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size or settings.db_pool_min,
            max_size=max_size or settings.db_pool_max,
            command_timeout=COMMAND_TIMEOUT_S,
            init=_init_connection,
            # None: asyncpg's own reset query; else asyncpg's rollback of an open
            # transaction only.
            reset=None if session_state else _no_reset,
            server_settings=server_settings,
            **target,
        )
        return pool

    pool = await retry_until(
        settings.startup_timeout_s,
        connect,
        retry_on=(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, *_STARTING),
        what="postgres",
    )
    _POOLS.difference_update([p for p in _POOLS if p.is_closing()])
    _POOLS.add(pool)
    return pool


async def create_read_pool(settings: HeraldSettings) -> asyncpg.Pool | None:
    """A pool on `HERALD_DATABASE_READ_URL` (a replica, for reads of public data only), or
    None when none is configured. Any server will do there, a standby or the primary."""
    if settings.database_read_url is None:
        return None
    return await create_pool(settings, url=settings.database_read_url, primary=False)


async def recycle_after_failover(exc: BaseException) -> bool:
    """When `exc` says the server behind a connection is gone or not the primary (see
    `shared.db.failover.server_lost`), expire every pool of this process: each connection
    is closed at its release or next acquire and replaced by a new one, which
    `target_session_attrs` checks. True when it did. The cost when only one connection
    was broken: the others reconnect once, a few milliseconds each."""
    if not server_lost(exc):
        return False
    log.warning(
        "postgres connection lost or server not the primary; replacing pooled connections",
        extra={"error": type(exc).__name__},
    )
    for pool in list(_POOLS):
        if not pool.is_closing():
            await pool.expire_connections()
    return True


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
