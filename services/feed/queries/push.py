"""SQL of Web Push subscriptions: subscribe (idempotent on endpoint), list, unsubscribe.

The feed is the table's writer (the push service only deletes rows whose endpoint is
gone). An endpoint belongs to one browser profile, so it is unique: subscribing it again
from the same account refreshes its keys and keeps its id; from another account it moves
to the caller under a new id (the device is now logged in as someone else, who alone
should receive its pushes; the former owner's id stops existing).

The per-account cap is checked under a transaction-scoped advisory lock on the account,
so concurrent subscribes of one account cannot together exceed it. Only the caller can
add rows to their own account (a move is made by the new owner's request), so that lock
covers every way the count grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from shared.db.timing import timed

# Advisory-lock namespace of push subscriptions ("push"): the two-int form of the lock
# keeps it apart from other users of advisory locks (see shared/media/content_lock.py).
SUBSCRIPTION_LOCK_CLASS = 0x70757368  # "push"


class SubscriptionLimitReached(Exception):
    pass


@dataclass(frozen=True)
class Subscribed:
    subscription_id: UUID
    created: bool  # False: the caller had this endpoint already (same id, keys refreshed)


@timed("feed", "push_subscribe")
async def subscribe(
    conn: asyncpg.Connection,
    account_id: str,
    endpoint: str,
    p256dh: bytes,
    auth: bytes,
    expiration_time: datetime | None,
    max_per_account: int,
) -> Subscribed:
    """Store the caller's subscription. Raises `SubscriptionLimitReached` when the caller
    already has `max_per_account` subscriptions for other endpoints."""
    new_id = uuid4()
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", SUBSCRIPTION_LOCK_CLASS, account_id
        )
        others = await conn.fetchval(
            "SELECT count(*) FROM push_subscriptions WHERE account_id = $1 AND endpoint <> $2",
            account_id,
            endpoint,
        )
        if others >= max_per_account:
            raise SubscriptionLimitReached
        row = await conn.fetchrow(
            """
            INSERT INTO push_subscriptions
                (subscription_id, account_id, endpoint, p256dh, auth, expiration_time)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (endpoint) DO UPDATE SET
                subscription_id = CASE WHEN push_subscriptions.account_id = EXCLUDED.account_id
                                       THEN push_subscriptions.subscription_id
                                       ELSE EXCLUDED.subscription_id END,
                created_at = CASE WHEN push_subscriptions.account_id = EXCLUDED.account_id
                                  THEN push_subscriptions.created_at
                                  ELSE now() END,
                account_id = EXCLUDED.account_id,
                p256dh = EXCLUDED.p256dh,
                auth = EXCLUDED.auth,
                expiration_time = EXCLUDED.expiration_time
            RETURNING subscription_id
            """,
            new_id,
            account_id,
            endpoint,
            p256dh,
            auth,
            expiration_time,
        )
    subscription_id: UUID = row["subscription_id"]
    return Subscribed(subscription_id=subscription_id, created=subscription_id == new_id)


async def list_own(conn: asyncpg.Connection, account_id: str) -> list[asyncpg.Record]:
    """The caller's subscriptions, oldest first (at most the cap: no paging needed)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT subscription_id, endpoint, created_at FROM push_subscriptions
        WHERE account_id = $1
        ORDER BY created_at, subscription_id
        """,
        account_id,
    )
    return rows


async def unsubscribe(conn: asyncpg.Connection, account_id: str, subscription_id: UUID) -> bool:
    """Delete the caller's subscription; False when there is none of theirs with that id."""
    deleted = await conn.fetchval(
        "DELETE FROM push_subscriptions WHERE subscription_id = $1 AND account_id = $2 "
        "RETURNING true",
        subscription_id,
        account_id,
    )
    return deleted is True
