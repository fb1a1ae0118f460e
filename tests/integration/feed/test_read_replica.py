"""`HERALD_DATABASE_READ_URL`: the feed serves anonymous reads of public data (directory,
card, history) from the read pool, and every read of an authenticated caller from the
primary.

The "replica" here is a second database on the local Postgres that differs from the
primary on purpose: it holds a copy of one channel under another name, and nothing else.
So which database answered a request shows in the response itself: the replica's name
on a card, a channel only the primary knows answering 404, follows only the primary
holds. It is read-only, as a standby is, so the anonymous reads are shown to write
nothing. `pg_stat_activity` confirms the read pool's connections are on the replica.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from tests.integration.feed.builder import create_channel, unique_handle
from tests.support.databases import database_of, extra_database, set_read_only
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

READ_APP = "herald-read-test"


@pytest.fixture
async def replica_url(stack: StackSlice) -> AsyncIterator[str]:
    """A migrated, empty second database standing for a replica; dropped afterwards."""
    async with extra_database(stack, "replica") as url:
        yield url


async def copy_channel(primary_url: str, replica_url: str, channel_id: UUID, name: str) -> None:
    """The channel's row as the replica would have it, but named `name`."""
    source = await asyncpg.connect(primary_url)
    target = await asyncpg.connect(replica_url)
    try:
        generated = {
            r["column_name"]
            for r in await source.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'channels' AND is_generated = 'ALWAYS'"
            )
        }
        row = await source.fetchrow("SELECT * FROM channels WHERE channel_id = $1", channel_id)
        assert row is not None
        values = {k: v for k, v in row.items() if k not in generated}
        values["name"] = name
        columns = ", ".join(values)
        params = ", ".join(f"${i}" for i in range(1, len(values) + 1))
        await target.execute(
            # Column names come from the catalog, values are parameters.
            f"INSERT INTO channels ({columns}) VALUES ({params})",
            *values.values(),
        )
    finally:
        await source.close()
        await target.close()


async def test_anonymous_reads_use_the_read_pool_and_callers_the_primary(
    stack: StackSlice,
    db: asyncpg.Pool,
    replica_url: str,
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    word = f"zq{uuid4().hex[:10]}"
    handle = unique_handle("rr")
    shared_id = await create_channel(db, handle=handle, name=f"Primary {word}")
    await copy_channel(stack.database_url, replica_url, shared_id, f"Replica {word}")
    primary_only = await create_channel(db, name=f"Only primary {word}")
    # Read-only like a standby: an anonymous read that tried to write would fail.
    admin = await asyncpg.connect(stack.admin_database_url)
    try:
        await set_read_only(admin, replica_url, True)
    finally:
        await admin.close()

    feed = await spawn_service(
        "feed", HERALD_DATABASE_READ_URL=f"{replica_url}?application_name={READ_APP}"
    ).start()
    reader = auth(f"reader-{uuid4().hex[:8]}")
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=30) as http:
        # The caller follows a channel only the primary knows.
        followed = await http.put(f"/v1/channels/{primary_only}/follow", headers=reader)
        assert followed.status_code == 200, followed.text

        # Anonymous: the replica answers.
        card = await http.get(f"/v1/channels/{shared_id}")
        assert card.status_code == 200 and card.json()["name"] == f"Replica {word}"
        assert (await http.get(f"/v1/channels/{handle}")).json()["name"] == f"Replica {word}"
        directory = await http.get("/v1/directory", params={"q": word})
        assert [c["name"] for c in directory.json()["items"]] == [f"Replica {word}"]
        assert (await http.get(f"/v1/channels/{shared_id}/posts")).status_code == 200
        missing = await http.get(f"/v1/channels/{primary_only}/posts")
        assert missing.status_code == 404

        # Authenticated: the primary answers, the same routes included.
        card = await http.get(f"/v1/channels/{shared_id}", headers=reader)
        assert card.json()["name"] == f"Primary {word}"
        directory = await http.get("/v1/directory", params={"q": word}, headers=reader)
        assert sorted(c["name"] for c in directory.json()["items"]) == [
            f"Only primary {word}",
            f"Primary {word}",
        ]
        history = await http.get(f"/v1/channels/{primary_only}/posts", headers=reader)
        assert history.status_code == 200 and history.json()["items"] == []
        follows = await http.get("/v1/me/follows", headers=reader)
        assert [f["channel_id"] for f in follows.json()["items"]] == [str(primary_only)]
        assert (await http.get("/v1/timeline", headers=reader)).status_code == 200

        # Readiness covers the read pool.
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["postgres_read"] is True

    # The read pool's connections are on the replica, under the URL's application_name.
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        databases = {
            r["datname"]
            for r in await conn.fetch(
                "SELECT datname FROM pg_stat_activity WHERE application_name = $1", READ_APP
            )
        }
    finally:
        await conn.close()
    feed.stop()
    assert databases == {database_of(replica_url)}
