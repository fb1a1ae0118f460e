"""The push service killed (SIGKILL) in the middle of a post to 10,000 subscribers: after a
restart every subscriber has received the post at least once (shard offsets are
committed only after the shard was sent, so a kill resends, never loses)."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Callable

import asyncpg
import httpx

from tests.integration.publisher.conftest import create_channel
from tests.integration.push.conftest import INSECURE, eventually
from tests.support.processes import ServiceProcess
from tests.support.push_receiver import PushReceiver
from tests.support.tokens import auth

SUBSCRIBERS = 10_000
# Kill once this many have arrived: well inside the post, and sure to be mid-shard.
KILL_AFTER = 1_000


def b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def test_killed_push_service_resends_and_loses_nothing(
    publisher: ServiceProcess,
    fanout: ServiceProcess,
    receiver: PushReceiver,
    spawn_service: Callable[..., ServiceProcess],
    db: asyncpg.Pool,
) -> None:
    pub = httpx.AsyncClient(base_url=publisher.base_url, timeout=20)
    try:
        channel = await create_channel(pub)
        channel_id = uuid.UUID(channel.channel_id)
        tag = uuid.uuid4().hex[:8]
        names = [f"k{tag}-{i}" for i in range(SUBSCRIBERS)]
        follows = []
        subscriptions = []
        for name in names:  # test setup: rows written directly, as the feed would
            sub = receiver.new_subscription(name)
            follows.append((name, channel_id))
            subscriptions.append(
                (
                    uuid.uuid4(),
                    name,
                    sub["endpoint"],
                    b64(sub["keys"]["p256dh"]),
                    b64(sub["keys"]["auth"]),
                )
            )
        async with db.acquire() as conn:
            await conn.copy_records_to_table(
                "follows", records=follows, columns=["account_id", "channel_id"]
            )
            await conn.copy_records_to_table(
                "push_subscriptions",
                records=subscriptions,
                columns=["subscription_id", "account_id", "endpoint", "p256dh", "auth"],
            )

        push = await spawn_service("push", **INSECURE).start()
        response = await pub.post(
            channel.url("/posts"),
            json={"type": "text", "text": "Match moved to Sunday"},
            headers=auth(channel.owner),
        )
        assert response.status_code == 202, response.text
        post_id = response.json()["post_id"]

        def reached() -> set[str]:
            return {m.name for m in receiver.received if m.json()["post_id"] == post_id}

        deadline = time.monotonic() + 120
        while len(reached()) < KILL_AFTER:
            assert time.monotonic() < deadline, "the post never started arriving"
            await asyncio.sleep(0.02)
        push.kill()
        at_kill = len(reached())
        assert at_kill < SUBSCRIBERS, "the post was complete before the kill: nothing proven"

        await spawn_service("push", **INSECURE).start()

        async def everyone() -> bool:
            return len(reached()) == SUBSCRIBERS

        await eventually(everyone, "every subscriber reached after the restart", timeout_s=180)
        duplicates = sum(1 for m in receiver.received if m.json()["post_id"] == post_id)
        print(f"reached {at_kill} before the kill; {duplicates - SUBSCRIBERS} pushes resent")
    finally:
        await pub.aclose()
