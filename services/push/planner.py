"""The planner: `herald.live.v1` → shard records on `herald.push.v1`.

For each `live.post_visible` that is not `silent`, it counts the post's push audience now
(`services.push.audience`), cuts it into `shards` slices and produces one `push.shard`
record per slice, keyed `post_id:shard` so the slices spread over the partitions. It
returns once the broker acknowledged every record, so the caller commits the live offset
only after that: a crash re-plans the post, and its shards may be sent twice (tolerable),
never not at all. Edits, deletions and every other live event type — including types this
version does not know — send nothing and are skipped without decoding.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import orjson
from aiokafka import ConsumerRecord

from services.push.audience import count_audience, shard_count
from shared.events.envelope import PoisonMessage
from shared.events.live import LIVE_EVENTS, POST_VISIBLE_EVENTS, LivePostVisible
from shared.events.push import PushShard, PushShardV1
from shared.kafka import produce
from shared.metrics.push import AUDIENCE_SUBSCRIPTIONS, POSTS_PLANNED, SHARDS_PRODUCED
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import PUSH

log = logging.getLogger(__name__)

SERVICE = "push"


def is_post_visible(raw: bytes | None) -> bool:
    """Whether a live record is a post-visible event, read from its `type` alone: the live
    topic carries many types (and gains new ones), none of which concerns push."""
    if raw is None:
        return False
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True  # not JSON: let the registry call it poison
    return not isinstance(data, dict) or data.get("type") == LivePostVisible.TYPE


class Planner:
    def __init__(
        self,
        *,
        settings: HeraldSettings,
        pool: asyncpg.Pool,
        producer: ProducerHolder,
        shard_target: int,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.producer = producer
        self.shard_target = shard_target
        self.topic = settings.topic(PUSH.name)

    async def __call__(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Plan one live record; raises PoisonMessage for a post-visible event that does not
        decode, any other error for a transient failure (the caller retries)."""
        if not is_post_visible(record.value):
            return
        event = LIVE_EVENTS.decode(record.value)
        if not isinstance(event, POST_VISIBLE_EVENTS):  # v1 and v2 (no body)
            raise PoisonMessage(f"{event.TYPE} is not a post-visible event")
        payload = event.payload
        if payload.silent:
            POSTS_PLANNED.labels(outcome="silent").inc()
            return
        alert = payload.priority == "alert"
        audience = await count_audience(self.pool, payload.channel_id, alert)
        shards = shard_count(audience, self.shard_target)
        if shards == 0:
            POSTS_PLANNED.labels(outcome="no_audience").inc()
            return
        AUDIENCE_SUBSCRIPTIONS.observe(audience)
        await asyncio.gather(
            *(
                produce(
                    self.producer,
                    self.topic,
                    f"{payload.post_id}:{shard}",
                    PushShard(
                        payload=PushShardV1(
                            post_id=payload.post_id,
                            channel_id=payload.channel_id,
                            shard=shard,
                            shards=shards,
                            priority="alert" if alert else "normal",
                        )
                    ),
                    self.settings.produce_timeout_s,
                    SERVICE,
                )
                for shard in range(shards)
            )
        )
        SHARDS_PRODUCED.inc(shards)
        POSTS_PLANNED.labels(outcome="planned").inc()
        log.info("push planned", extra={"post_id": str(payload.post_id), "shards": shards})
