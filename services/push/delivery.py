"""The shard sender: one `push.shard` record → the pushes of that slice of the audience.

For a shard it:
1. reads the post and its channel: a post deleted, expired or of a channel no longer
   active is dropped with its unsent pages (checked again before every page, so a
   deletion also stops a shard half sent);
2. builds the payload and headers once (`services.push.payload`);
3. selects the shard's subscriptions in keyset pages (`services.push.audience`) and sends
   each page concurrently, at most `send_concurrency` pushes in flight;
4. deletes the subscriptions whose push service answered 404/410 (the only rows of
   `push_subscriptions` push ever deletes) and counts every outcome.
It returns once every page was sent, so the caller commits the shard's offset after that:
a crash resends at most the shard in hand. Nothing it logs or counts names a follower.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import orjson
from aiokafka import ConsumerRecord

from services.push.audience import NIL_UUID, shard_page
from services.push.payload import Push, build_push
from services.push.sender.model import Outcome, Subscription
from shared.events.envelope import PoisonMessage
from shared.events.push import PUSH_EVENTS, PushShard
from shared.metrics.push import SHARD_SECONDS, SHARDS, SUBSCRIPTIONS_DELETED

log = logging.getLogger(__name__)

POST_FOR_PUSH = """
    SELECT p.seq, p.body, p.status, p.expires_at, c.name, c.status AS channel_status
    FROM posts p JOIN channels c ON c.channel_id = p.channel_id
    WHERE p.channel_id = $1 AND p.post_id = $2
"""
DELETE_GONE = "DELETE FROM push_subscriptions WHERE subscription_id = ANY($1::uuid[])"


class Sender(Protocol):
    """What the shard sender needs of `services.push.sender.PushSender`."""

    async def send(
        self, sub: Subscription, payload: bytes, *, ttl_s: int, urgency: str, topic: str | None
    ) -> Outcome: ...


class ShardSender:
    def __init__(
        self, *, pool: asyncpg.Pool, sender: Sender, page_size: int, send_concurrency: int
    ) -> None:
        self.pool = pool
        self.sender = sender
        self.page_size = page_size
        self._slots = asyncio.Semaphore(send_concurrency)

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Send one shard record; PoisonMessage when it does not decode, any other error
        for a transient failure (the caller retries the shard)."""
        event = PUSH_EVENTS.decode(record.value)
        if not isinstance(event, PushShard):
            raise PoisonMessage(f"{event.TYPE} is not a push shard")
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome = await self.send_shard(event)
        SHARDS.labels(outcome=outcome).inc()
        SHARD_SECONDS.observe(loop.time() - started)

    async def send_shard(self, event: PushShard) -> str:
        """Send every page of the shard; the shard's outcome: sent, or dropped when the post
        is gone (deleted, expired, its channel no longer active)."""
        shard = event.payload
        alert = shard.priority == "alert"
        after = NIL_UUID
        outcomes: Counter[Outcome] = Counter()
        while True:
            push = await self._push_for(shard.channel_id, shard.post_id, shard.priority)
            if push is None:
                return "dropped"
            rows = await shard_page(
                self.pool,
                shard.channel_id,
                alert,
                shard=shard.shard,
                shards=shard.shards,
                after=after,
                limit=self.page_size,
            )
            if not rows:
                break
            outcomes.update(await self._send_page(rows, push))
            after = rows[-1]["subscription_id"]
            if len(rows) < self.page_size:
                break
        log.info(
            "push shard sent",
            extra={
                "post_id": str(shard.post_id),
                "shard": shard.shard,
                "outcomes": {o.value: n for o, n in outcomes.items()},
            },
        )
        return "sent"

    async def _push_for(self, channel_id: UUID, post_id: UUID, priority: str) -> Push | None:
        row = await self.pool.fetchrow(POST_FOR_PUSH, channel_id, post_id)
        if row is None or row["status"] != "published" or row["channel_status"] != "active":
            return None
        body: Any = row["body"]
        if isinstance(body, str | bytes):
            body = orjson.loads(body)
        return build_push(
            channel_id=channel_id,
            channel_name=row["name"],
            post_id=post_id,
            seq=row["seq"],
            body=body,
            priority=priority,
            expires_at=row["expires_at"],
            now=datetime.now(UTC),
        )

    async def _send_page(self, rows: list[Any], push: Push) -> Counter[Outcome]:
        subs = [
            Subscription(
                subscription_id=row["subscription_id"],
                endpoint=row["endpoint"],
                p256dh=bytes(row["p256dh"]),
                auth=bytes(row["auth"]),
            )
            for row in rows
        ]
        results = await asyncio.gather(*(self._send_one(sub, push) for sub in subs))
        # Each outcome is counted by the sender (herald_push_sends_total, by host).
        outcomes = Counter(results)
        gone = [
            sub.subscription_id
            for sub, outcome in zip(subs, results, strict=True)
            if outcome is Outcome.GONE
        ]
        if gone:
            await self.pool.execute(DELETE_GONE, gone)
            SUBSCRIPTIONS_DELETED.inc(len(gone))
        return outcomes

    async def _send_one(self, sub: Subscription, push: Push) -> Outcome:
        async with self._slots:
            try:
                return await self.sender.send(
                    sub, push.payload, ttl_s=push.ttl_s, urgency=push.urgency, topic=push.topic
                )
            except Exception as exc:
                # One broken subscription must not fail (and so resend) the whole shard.
                # The error's class only: its text may quote the endpoint, a capability.
                log.error(
                    "push send raised; counted as failed", extra={"error": type(exc).__name__}
                )
                return Outcome.FAILED
