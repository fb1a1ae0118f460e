"""After a database failover the feed reconnects by itself: a request whose connection is
cut mid-transaction answers 503 with `Retry-After`, and the next ones succeed on fresh
connections; while only a read-only server (a demoted primary, a standby) answers, every
request gets the same 503, reads of the caller's own state included.

The feed runs on a database of its own here, so that making that database read-only
(`ALTER DATABASE … SET default_transaction_read_only`, which new sessions see as a
standby's) touches no other test. `pg_terminate_backend` on every one of the feed's
connections stands for the old primary going away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from uuid import uuid4

import asyncpg
import httpx
import pytest

from shared.db.pool import create_pool
from tests.integration.feed.builder import create_channel, eventually
from tests.support.databases import (
    extra_database,
    lock_waiters,
    set_read_only,
    terminate_backends,
)
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


@pytest.fixture
async def own_database(stack: StackSlice) -> AsyncIterator[str]:
    async with extra_database(stack, "failover") as url:
        yield url


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/database-unavailable")


async def test_a_cut_connection_is_a_503_and_the_next_requests_reconnect(
    stack: StackSlice, own_database: str, spawn_service: Callable[..., ServiceProcess]
) -> None:
    app_name = f"herald-failover-{uuid4().hex[:8]}"
    feed = await spawn_service(
        "feed", HERALD_DATABASE_URL=f"{own_database}?application_name={app_name}"
    ).start()
    pool = await create_pool(stack.settings(), url=own_database, min_size=1, max_size=2)
    admin = await asyncpg.connect(stack.admin_database_url)
    account = f"failover-{uuid4().hex[:8]}"
    reader = auth(account)
    try:
        first, second = await create_channel(pool), await create_channel(pool)
        async with httpx.AsyncClient(base_url=feed.base_url, timeout=30) as http:
            # Hold the follow mid-transaction: its insert waits for another transaction's
            # uncommitted row of the same key.
            async with pool.acquire() as blocker:
                locked = blocker.transaction()
                await locked.start()
                await blocker.execute(
                    "INSERT INTO follows (account_id, channel_id) VALUES ($1, $2)", account, first
                )
                request = asyncio.create_task(
                    http.put(f"/v1/channels/{first}/follow", headers=reader)
                )

                async def waiting() -> bool:
                    return await lock_waiters(admin, app_name) > 0

                await eventually(waiting, what="the follow waiting on the lock")
                # The primary goes away: every connection of the feed, busy or idle.
                assert await terminate_backends(admin, app_name) >= 1
                assert_unavailable(await request)
                await locked.rollback()

            # The next requests succeed, more of them than the pool holds connections: no
            # dead connection is handed out again.
            for _ in range(12):
                response = await http.put(f"/v1/channels/{first}/follow", headers=reader)
                assert response.status_code == 200, response.text
            follows = await http.get("/v1/me/follows", headers=reader)
            assert [f["channel_id"] for f in follows.json()["items"]] == [str(first)]
            assert (await http.get("/readyz")).status_code == 200

            # Failover to a server that is read-only for now (the old primary back as a
            # standby, or a router still pointing at it): writes and the caller's own
            # reads both answer 503, never a 500 and never stale own state.
            await set_read_only(admin, own_database, True)
            try:
                assert await terminate_backends(admin, app_name) >= 1
                assert_unavailable(await http.put(f"/v1/channels/{second}/follow", headers=reader))
                assert_unavailable(await http.get("/v1/me/follows", headers=reader))
            finally:
                await set_read_only(admin, own_database, False)

            # A writable primary again: the same requests succeed without a restart.
            response = await http.put(f"/v1/channels/{second}/follow", headers=reader)
            assert response.status_code == 200, response.text
            follows = await http.get("/v1/me/follows", headers=reader)
            assert sorted(f["channel_id"] for f in follows.json()["items"]) == sorted(
                [str(first), str(second)]
            )
    finally:
        feed.stop()
        await admin.close()
        await pool.close()
