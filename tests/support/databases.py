"""A second database on the session's Postgres, for tests that must change a database
for everyone connected to it (make it read-only, stand for a replica) without touching
the session's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.db.migrate import migrate
from tests.support.stack import StackSlice


def database_of(url: str) -> str:
    """The database name of a Postgres URL."""
    return urlsplit(url).path.lstrip("/")


@asynccontextmanager
async def extra_database(stack: StackSlice, suffix: str) -> AsyncIterator[str]:
    """Create and migrate `<session database>_<suffix>`, yield its URL, drop it after."""
    name = f"{database_of(stack.database_url)}_{suffix}"
    admin = await asyncpg.connect(stack.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(stack.database_url)._replace(path=f"/{name}"))
    try:
        conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url
    finally:
        admin = await asyncpg.connect(stack.admin_database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def terminate_backends(admin: asyncpg.Connection, application_name: str) -> int:
    """End every backend of the connections named `application_name` (a service's, when
    its database URL names it): what a lost primary does to them. How many there were."""
    ended: int = await admin.fetchval(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = $1",
        application_name,
    )
    return ended


async def lock_waiters(admin: asyncpg.Connection, application_name: str) -> int:
    """How many of those connections wait for a lock now."""
    waiting: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        " AND wait_event_type = 'Lock'",
        application_name,
    )
    return waiting


async def set_read_only(admin: asyncpg.Connection, url: str, read_only: bool) -> None:
    """Make new sessions of the database read-only (as a standby's are), or not again."""
    name = database_of(url)
    if read_only:
        await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    else:
        await admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
