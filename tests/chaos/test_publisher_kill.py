"""A publisher killed after the broker took a post but before its transaction committed:
the admin's retry with the same Idempotency-Key gets the same post, published once.

The random trials hit this window only now and then; here it is held open on purpose by
locking the table the publisher writes right after the broker's acknowledgement (nothing
in the publish path touches it before).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import httpx
import pytest

from tests.chaos.cluster import Cluster
from tests.chaos.setup import create_channel
from tests.support.stack import StackSlice
from tests.support.tokens import auth

pytestmark = pytest.mark.integration


async def until_publish_waits_for_lock(db: asyncpg.Connection) -> None:
    for _ in range(300):
        if await db.fetchval(
            # (Waiting in the statement's parse, the backend still shows its last query.)
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the publish never reached the write after the broker's ack")


async def test_retry_after_kill_between_produce_and_commit_publishes_once(
    cluster: Cluster, chaos_stack: StackSlice
) -> None:
    # Only the publisher may wait for the lock on accepted_posts (retention deletes there).
    cluster.kill("retention")
    async with httpx.AsyncClient(base_url=cluster.url("publisher"), timeout=30) as publisher:
        channel_id, owner = (await create_channel(publisher, "kill")).split("|")
        key = uuid.uuid4().hex
        url = f"/v1/channels/{channel_id}/posts"
        body = {"type": "text", "text": f"chaos {key}"}
        headers = {**auth(owner), "Idempotency-Key": key}
        db = await asyncpg.connect(chaos_stack.database_url)
        try:
            async with db.transaction():
                await db.execute("LOCK TABLE accepted_posts IN ACCESS EXCLUSIVE MODE")
                first = asyncio.create_task(publisher.post(url, json=body, headers=headers))
                # Produced and acknowledged, now waiting for the lock: the answer never comes.
                await until_publish_waits_for_lock(db)
                cluster.kill("publisher")
        finally:
            await db.close()
        with contextlib.suppress(httpx.HTTPError):
            await first
        await cluster.restart("publisher")
        retry = await publisher.post(url, json=body, headers=headers)
        assert retry.status_code == 202, retry.text
        post_id = retry.json()["post_id"]

    async with httpx.AsyncClient(base_url=cluster.url("feed"), timeout=30) as feed:
        for _ in range(200):
            page = await feed.get(f"/v1/channels/{channel_id}/posts", headers=auth("reader"))
            items = page.json()["items"]
            if any(i["post_id"] == post_id for i in items):
                break
            await asyncio.sleep(0.1)
        # Fan-out has passed the retry; anything produced before it is persisted too.
        assert [(i["seq"], i["post_id"]) for i in items] == [(1, post_id)]
