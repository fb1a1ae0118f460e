"""The migration runner against a real, empty Postgres database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from shared.db.migrate import Migration, MigrationError, load_migrations, migrate
from tests.support.stack import StackSlice


@pytest.fixture
async def empty_db(stack: StackSlice) -> AsyncIterator[asyncpg.Connection]:
    name = f"herald_m_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(stack.admin_database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(stack.admin_database_url)._replace(path=f"/{name}"))
    conn = await asyncpg.connect(url, server_settings={"timezone": "UTC"})
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrations_apply_once_and_create_todays_partitions(
    empty_db: asyncpg.Connection,
) -> None:
    applied = await migrate(empty_db)
    assert applied == [m.version for m in load_migrations()]
    tables = {
        r["tablename"]
        for r in await empty_db.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")
    }
    for table in (
        "channels",
        "channel_admins",
        "media",
        "follows",
        "reactions",
        "poll_votes",
        "post_counters",
        "channel_stats",
    ):
        assert table in tables
    today = datetime.now(UTC).strftime("%Y%m%d")
    for parent in ("posts", "feed_items"):
        kind = await empty_db.fetchval("SELECT relkind FROM pg_class WHERE relname = $1", parent)
        assert kind == b"p" or kind == "p"  # partitioned table
        assert f"{parent}_p{today}" in tables

    assert await migrate(empty_db) == []  # idempotent: nothing applied the second time


async def test_a_changed_applied_migration_is_refused(empty_db: asyncpg.Connection) -> None:
    real = load_migrations()
    await migrate(empty_db, [*real, Migration("9999_demo", "CREATE TABLE demo (id int)")])
    changed = Migration("9999_demo", "CREATE TABLE demo (id bigint)")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(empty_db, [*real, changed])


async def test_partition_bounds_are_utc_days(empty_db: asyncpg.Connection) -> None:
    await migrate(empty_db)
    today = datetime.now(UTC).strftime("%Y%m%d")
    bound = await empty_db.fetchval(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1",
        f"posts_p{today}",
    )
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert f"FROM ('{day} 00:00:00+00')" in bound
