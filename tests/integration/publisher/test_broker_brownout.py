"""A broker that is up but does not acknowledge (a brown-out) costs the publishes waiting
for it, not the database pool: meanwhile an admin still reads their channel, and every
waiting publish ends as a 503 problem with Retry-After.

The brown-out is the real broker never acknowledging this publisher's sends: its posts
topic is deleted once it runs (the local broker creates no topics by itself), so every
produce waits for a partition until its timeout. The outage proxy of the other tests
cannot express this: a client reaches the broker at the address the broker advertises,
not through the proxy. Requiring more in-sync replicas than the single broker has does
not either: the broker caps `min.insync.replicas` at the replication factor and acks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from shared.topics import POSTS
from tests.integration.publisher.conftest import create_channel
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

POOL_SIZE = 2
# Long enough that every publish is still waiting while the reads below are answered.
PRODUCE_TIMEOUT_S = 15
PUBLISHES = 4  # more than the pool, without an Idempotency-Key
KEYED_PUBLISHES = 2  # with keys: these may hold a connection, at most half the pool


async def delete_topic(stack: StackSlice, name: str) -> None:
    """Delete `name` and return once the broker no longer knows it (polled, bounded):
    deletion is asynchronous, and a send meanwhile would still be acknowledged."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([name])
        for _ in range(300):
            if name not in await admin.list_topics():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"topic {name} still exists")
    finally:
        await admin.close()


async def until_a_publish_holds_a_transaction(db: asyncpg.Connection) -> None:
    """Return once a keyed publish waits for the broker inside its election transaction
    (polled, bounded): the brown-out has reached the publish path."""
    for _ in range(300):
        if await db.fetchval(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND state = 'idle in transaction'
                 AND application_name = 'herald'"""
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no publish reached the broker wait")


async def test_broker_brownout_leaves_the_pool_to_other_requests(
    stack: StackSlice, spawn_service: Callable[..., ServiceProcess]
) -> None:
    namespace = f"{stack.namespace}-brownout"
    service = await spawn_service(
        "publisher",
        HERALD_NAMESPACE=namespace,
        HERALD_DB_POOL_MIN="1",
        HERALD_DB_POOL_MAX=str(POOL_SIZE),
        HERALD_PRODUCE_TIMEOUT_S=str(PRODUCE_TIMEOUT_S),
    ).start()
    db = await asyncpg.connect(stack.database_url)
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
            channel = await create_channel(http)
            await delete_topic(stack, f"{namespace}.{POSTS.name}")
            owner = auth(channel.owner)
            body = {"type": "text", "text": "Clinics open late tonight"}
            waiting = [
                asyncio.create_task(http.post(channel.url("/posts"), json=body, headers=owner))
                for _ in range(PUBLISHES)
            ] + [
                asyncio.create_task(
                    http.post(
                        channel.url("/posts"),
                        json=body,
                        headers={**owner, "Idempotency-Key": uuid.uuid4().hex},
                    )
                )
                for _ in range(KEYED_PUBLISHES)
            ]
            await until_a_publish_holds_a_transaction(db)

            # More reads than the pool has connections, one after another: each needs one.
            for _ in range(POOL_SIZE + 1):
                read = await http.get(channel.url(), headers=owner)
                assert read.status_code == 200, read.text
                assert read.json()["channel_id"] == channel.channel_id
            assert not any(task.done() for task in waiting), "a read waited for the publishes"

            for response in await asyncio.gather(*waiting):
                assert response.status_code == 503, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["type"].endswith("/broker-unavailable")
                assert response.headers["Retry-After"]
    finally:
        await db.close()
        # Its producer still retries the unacknowledged batches, which a graceful stop
        # would wait for: nothing of it is needed any more.
        service.kill()
