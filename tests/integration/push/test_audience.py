"""Who a post reaches by push, in the real Postgres: the planner's count and the sender's
shard pages select the same subscriptions, each in exactly one shard."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from services.push.audience import NIL_UUID, count_audience, shard_page


async def subscribe(db: asyncpg.Pool, account_id: str, *, expired: bool = False) -> uuid.UUID:
    subscription_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO push_subscriptions (subscription_id, account_id, endpoint, p256dh, auth,"
        " expiration_time) VALUES ($1, $2, $3, $4, $5, $6)",
        subscription_id,
        account_id,
        f"https://push.example.org/{subscription_id}",
        b"\x04" + os.urandom(64),
        os.urandom(16),
        datetime.now(UTC) - timedelta(minutes=1) if expired else None,
    )
    return subscription_id


async def follow(
    db: asyncpg.Pool,
    account_id: str,
    channel_id: uuid.UUID,
    *,
    active: bool = True,
    muted: bool = False,
    alerts: bool = True,
) -> None:
    await db.execute(
        "INSERT INTO follows (account_id, channel_id, active, muted, alerts)"
        " VALUES ($1, $2, $3, $4, $5)",
        account_id,
        channel_id,
        active,
        muted,
        alerts,
    )


async def all_shards(
    db: asyncpg.Pool, channel_id: uuid.UUID, alert: bool, shards: int
) -> list[uuid.UUID]:
    """Every subscription of every shard, read in pages of 3 (duplicates kept, to be seen)."""
    found: list[uuid.UUID] = []
    for shard in range(shards):
        after = NIL_UUID
        while rows := await shard_page(
            db, channel_id, alert, shard=shard, shards=shards, after=after, limit=3
        ):
            found += [row["subscription_id"] for row in rows]
            after = rows[-1]["subscription_id"]
    return found


async def test_count_and_shards_select_the_same_audience(db: asyncpg.Pool) -> None:
    channel = uuid.uuid4()
    tag = uuid.uuid4().hex[:8]
    normal: set[uuid.UUID] = set()
    alert_only: set[uuid.UUID] = set()
    for i in range(20):  # followers with one or two devices
        account = f"a-{tag}-{i}"
        await follow(db, account, channel)
        normal.add(await subscribe(db, account))
        if i % 3 == 0:
            normal.add(await subscribe(db, account))
    muted_alerts = f"muted-alerts-{tag}"
    await follow(db, muted_alerts, channel, muted=True, alerts=True)
    alert_only.add(await subscribe(db, muted_alerts))
    # Reached by nothing: muted without alerts, unfollowed, an expired subscription,
    # a follower without subscription, a subscriber following another channel.
    for account, kwargs in (
        (f"muted-{tag}", {"muted": True, "alerts": False}),
        (f"left-{tag}", {"active": False}),
    ):
        await follow(db, account, channel, **kwargs)
        await subscribe(db, account)
    await follow(db, f"expired-{tag}", channel)
    await subscribe(db, f"expired-{tag}", expired=True)
    await follow(db, f"nosub-{tag}", channel)
    await follow(db, f"other-{tag}", uuid.uuid4())
    await subscribe(db, f"other-{tag}")

    assert await count_audience(db, channel, False) == len(normal)
    assert await count_audience(db, channel, True) == len(normal | alert_only)
    for shards in (1, 4, 16):
        sent = await all_shards(db, channel, False, shards)
        assert sorted(sent) == sorted(normal)  # each exactly once
        sent = await all_shards(db, channel, True, shards)
        assert sorted(sent) == sorted(normal | alert_only)
