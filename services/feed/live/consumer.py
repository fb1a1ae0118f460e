"""The live consumer: every feed process reads all of herald.live.v1 from the end.

Manual assignment (no consumer group): each process must see every live event, and a
stream that reconnects replays what it missed from Postgres, so starting at the end and
never committing is right; it also leaves no consumer groups behind on the broker.

Per batch: decode (poison is counted and skipped: the same message reaches every feed
process, so one DLQ copy per process would only be noise; producers of this topic are
Herald's own services), drop suspended channels from local streams (`live.channel_status`),
apply follow signals of accounts with streams here (first, so a
post right after a follow in the same batch reaches the new follower), keep events of
channels with local listeners, read the current state of the posts they name in one query
(that gives each its orderable id and drops expired ones), and hand the rendered items to
the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.feed.live.hub import Hub, Item
from services.feed.live.render import counters_item, post_item, trimmed_item
from services.feed.queries import stream as queries
from shared.db.failover import UNAVAILABLE_TYPES
from shared.events.envelope import Event, PoisonMessage
from shared.events.live import (
    LIVE_EVENTS,
    POST_EDITED_EVENTS,
    POST_VISIBLE_EVENTS,
    LiveChannelStatus,
    LiveCountersChanged,
    LiveFollowChanged,
    LiveHistoryTrimmed,
    LivePostDeleted,
)
from shared.kafka import make_consumer, topic_partitions
from shared.logs import request_id_var
from shared.metrics.feed import LIVE_EVENTS_CONSUMED, PUBLISH_TO_PUSH_SECONDS
from shared.metrics.lag import LagTracker
from shared.settings import HeraldSettings
from shared.topics import LIVE

log = logging.getLogger(__name__)

SERVICE = "feed"
BATCH_MAX = 500
POLL_TIMEOUT_MS = 500
RETRY_DELAY_S = 1.0
# Every version of the post events (v2 carry no body: the state is read from Postgres
# anyway; v1 are accepted until they age out of the topic).
POST_EVENTS = (*POST_VISIBLE_EVENTS, *POST_EDITED_EVENTS, LivePostDeleted)


class LiveConsumer:
    def __init__(self, settings: HeraldSettings, pool: asyncpg.Pool, hub: Hub) -> None:
        self.settings = settings
        self.pool = pool
        self.hub = hub
        self.topic = settings.topic(LIVE.name)
        self.consumer: AIOKafkaConsumer | None = None
        self.partitions: list[TopicPartition] = []
        self.lag: LagTracker | None = None

    async def start(self) -> None:
        try:
            self.partitions = await topic_partitions(self.settings, self.topic)
        except (KafkaError, TimeoutError, OSError) as exc:
            # Start anyway on the declared partitions: a live push is best effort.
            log.warning(
                "live topic not described; using its declared partitions", extra={"error": str(exc)}
            )
            self.partitions = [TopicPartition(self.topic, p) for p in range(LIVE.partitions)]
        consumer = make_consumer(self.settings, [], None, auto_offset_reset="latest")
        await consumer.start()
        consumer.assign(self.partitions)
        await consumer.seek_to_end(*self.partitions)
        self.consumer = consumer
        self.lag = LagTracker(consumer, service=SERVICE, topic=LIVE.name)

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()

    async def run(self) -> None:
        """Consume until cancelled; errors of one batch are logged and the loop goes on."""
        assert self.consumer is not None and self.lag is not None
        # The lag gauge refreshes on its own task, so it moves while no events arrive.
        lag_task = asyncio.create_task(self.lag.run(), name="feed-live-lag")
        try:
            await self._consume(self.consumer)
        finally:
            lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_task

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=BATCH_MAX)
            except KafkaError as exc:
                # The client reconnects by itself; pushes pause meanwhile, replay covers it.
                log.warning("live fetch failed", extra={"error": str(exc)})
                await asyncio.sleep(RETRY_DELAY_S)
                continue
            events: list[Event] = []
            for records in batch.values():
                for record in records:
                    try:
                        events.append(LIVE_EVENTS.decode(record.value))
                    except PoisonMessage as exc:
                        LIVE_EVENTS_CONSUMED.labels(outcome="poison").inc()
                        log.warning("poison live event skipped", extra={"error": str(exc)})
            if events:
                try:
                    await self.dispatch(events)
                except (asyncpg.PostgresError, OSError, *UNAVAILABLE_TYPES) as exc:
                    # Streams resume from Postgres on reconnect; a live push is best effort.
                    log.warning("live dispatch failed", extra={"error": str(exc)})

    async def dispatch(self, events: list[Event]) -> None:
        statuses = [e for e in events if isinstance(e, LiveChannelStatus)]
        if statuses:
            # First: nothing of a channel suspended in this batch is pushed any more.
            self._channel_statuses(statuses)
            events = [e for e in events if not isinstance(e, LiveChannelStatus)]
        signals = [e for e in events if isinstance(e, LiveFollowChanged)]
        if signals:
            self._follow_signals(signals)
            events = [e for e in events if not isinstance(e, LiveFollowChanged)]
        wanted = [e for e in events if self.hub.listening(e.payload.channel_id)]
        LIVE_EVENTS_CONSUMED.labels(outcome="no_listener").inc(len(events) - len(wanted))
        LIVE_EVENTS_CONSUMED.labels(outcome="dispatched").inc(len(wanted))
        keys = list(
            dict.fromkeys(
                (e.payload.channel_id, e.payload.post_id)
                for e in wanted
                if isinstance(e, POST_EVENTS)
            )
        )
        states: dict[tuple[UUID, UUID], Item] = {}
        if keys:
            async with self.pool.acquire() as conn:
                for row in await queries.post_states(conn, keys):
                    if row["status"] == "published" and not _visible(row):
                        continue
                    states[(row["channel_id"], row["post_id"])] = post_item(row)
        sent: set[tuple[UUID, UUID]] = set()
        for event in wanted:
            channel_id = event.payload.channel_id
            if isinstance(event, POST_EVENTS):
                key = (channel_id, event.payload.post_id)
                # Several events of one post in a batch: its current state, once.
                if key in sent or key not in states:
                    continue
                sent.add(key)
                _pushed(event, self.hub.publish(channel_id, states[key]))
            elif isinstance(event, LiveCountersChanged):
                self.hub.publish(channel_id, counters_item(event.payload))
            elif isinstance(event, LiveHistoryTrimmed):
                self.hub.publish(channel_id, trimmed_item(event.payload))

    def _channel_statuses(self, statuses: list[LiveChannelStatus]) -> None:
        """A suspended channel leaves every local stream at once. A restore needs nothing
        here: streams opened (or reconnected) after it read the channel as active again."""
        for event in statuses:
            payload = event.payload
            if payload.status == "suspended":
                streams = self.hub.channel_suspended(payload.channel_id)
                outcome = "dispatched" if streams else "no_listener"
                log.info(
                    "suspended channel left local streams",
                    extra={"channel_id": str(payload.channel_id), "streams": streams},
                )
            else:
                outcome = "no_listener"
            LIVE_EVENTS_CONSUMED.labels(outcome=outcome).inc()

    def _follow_signals(self, signals: list[LiveFollowChanged]) -> None:
        """Open streams here of the signalled accounts follow the change (also those of
        the process that sent it: applying a change twice is harmless)."""
        applied = 0
        for signal in signals:
            payload = signal.payload
            account_id = self.hub.account_for_tag(payload.account_tag)
            if account_id is not None:
                self.hub.follow_changed(account_id, payload.channel_id, payload.following)
                applied += 1
        LIVE_EVENTS_CONSUMED.labels(outcome="no_listener").inc(len(signals) - applied)
        LIVE_EVENTS_CONSUMED.labels(outcome="dispatched").inc(applied)


def _pushed(event: Event, streams: int) -> None:
    """Publish → push latency of a new post, and one log line per pushed post change under
    the request id it was published with. Ids of the channel and post and a count only:
    never which accounts the streams belong to."""
    if streams == 0:
        return
    fields: dict[str, object] = {
        "channel_id": str(event.payload.channel_id),
        "post_id": str(event.payload.post_id),
        "event": event.type,
        "streams": streams,
    }
    if isinstance(event, POST_VISIBLE_EVENTS):
        latency = max(0.0, (datetime.now(UTC) - event.payload.created_at).total_seconds())
        PUBLISH_TO_PUSH_SECONDS.observe(latency)
        fields["publish_to_push_s"] = round(latency, 4)
    token = request_id_var.set(event.request_id)
    try:
        log.info("post pushed", extra=fields)
    finally:
        request_id_var.reset(token)


def _visible(row: asyncpg.Record) -> bool:
    expires_at: datetime = row["expires_at"]
    return expires_at > datetime.now(UTC)
