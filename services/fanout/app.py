"""The fan-out faust app: wiring of consumers, dependencies and the operations endpoints.

The posts and interactions paths run as `BatchConsumer`s (aiokafka, commit after the
Postgres transaction) inside the faust worker: faust's batching (`Stream.take`) acks a
batch that was interrupted before its write committed (see services/fanout/batching.py).
The windowed directory stats are derived from Postgres (services/fanout/stats.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import faust

from services.fanout.batching import BatchConsumer, Handler
from services.fanout.config import FanoutSettings
from services.fanout.counters.handler import CountersHandler
from services.fanout.counters.live import CountersPublisher
from services.fanout.counters.reconcile import Reconciler
from services.fanout.live import LiveEmitter
from services.fanout.periodic import Periodic
from services.fanout.posts.handler import PostsHandler
from services.fanout.stats import StatsRefresher
from shared.events import INTERACTION_EVENTS, POST_EVENTS, EventRegistry
from shared.http.ops import Readiness, create_ops_app, ops_server
from shared.kafka import make_consumer
from shared.runtime import Dependencies
from shared.topics import INTERACTIONS, POSTS, TopicSpec

log = logging.getLogger(__name__)

SERVICE = "fanout"
# On SIGTERM the batch in hand may finish (its transaction and commit) for this long.
STOP_GRACE_S = 10.0


class FanoutApp(faust.App):
    """A faust app that also owns Herald's dependencies (pool, producer, ops server)."""

    def __init__(self, settings: FanoutSettings) -> None:
        super().__init__(
            settings.group("herald-fanout"),
            broker=f"kafka://{settings.kafka_bootstrap}",
            store="memory://",
            autodiscover=False,
            web_enabled=False,
            # Table changelogs must match the partition count of their source topic, or
            # faust 0.15.3 crashes the agent with PartitionsMismatch.
            topic_partitions=POSTS.partitions,
            topic_replication_factor=settings.kafka_replication_factor,
            consumer_auto_offset_reset="earliest",
            # faust's default (60 s) keeps a SIGKILLed worker's partitions for a minute.
            broker_session_timeout=10.0,
            broker_heartbeat_interval=3.0,
        )
        self.herald_settings = settings
        self.readiness = Readiness()
        self.deps = Dependencies(settings=settings, service=SERVICE, readiness=self.readiness)
        self.consumers: list[BatchConsumer] = []
        self.consumer_tasks: list[asyncio.Task[None]] = []
        self.counters_publisher: CountersPublisher | None = None
        self.periodic: list[Periodic] = []

    async def on_start(self) -> None:
        await super().on_start()
        # Not an @app.task: faust starts those only after its own group join and table
        # recovery, which must not hold up the posts path or the operations endpoints.
        self.add_future(self.run_herald())

    async def run_herald(self) -> None:
        settings = self.herald_settings
        server = ops_server(
            create_ops_app(SERVICE, self.readiness), settings.ops_host, settings.ops_port
        )
        await self.deps.start()
        await asyncio.gather(server.serve(), self.run_consumers())

    async def run_consumers(self) -> None:
        settings = self.herald_settings
        pool = self.deps.require_pool()
        producer = self.deps.require_producer()
        live = LiveEmitter(producer, settings)
        self.counters_publisher = CountersPublisher(pool, live, settings.counters_live_interval_s)
        self.consumers = [
            self._batch_consumer(
                POSTS, "posts", POST_EVENTS, PostsHandler(pool, live, settings.write_max_followers)
            ),
            self._batch_consumer(
                INTERACTIONS,
                "interactions",
                INTERACTION_EVENTS,
                CountersHandler(pool, self.counters_publisher),
            ),
        ]
        self.consumer_tasks = [asyncio.create_task(c.run()) for c in self.consumers]
        self.consumer_tasks.append(asyncio.create_task(self.counters_publisher.run()))
        self.periodic = [
            StatsRefresher(pool, settings.stats_flush_interval_s),
            Reconciler(pool, self.counters_publisher, settings.reconcile_interval_s),
        ]
        self.consumer_tasks += [asyncio.create_task(task.run()) for task in self.periodic]
        await asyncio.gather(*self.consumer_tasks)

    def _batch_consumer(
        self, topic: TopicSpec, role: str, registry: EventRegistry, handler: Handler
    ) -> BatchConsumer:
        """A manually committed consumer of one topic, in its own group per role."""
        settings = self.herald_settings
        return BatchConsumer(
            settings=settings,
            consumer=make_consumer(
                settings,
                [settings.topic(topic.name)],
                settings.group(f"herald-fanout-{role}"),
                max_poll_records=settings.batch_max_records,
            ),
            producer=self.deps.require_producer(),
            registry=registry,
            handler=handler,
            name=topic.name,
        )

    async def on_stop(self) -> None:
        for consumer in self.consumers:
            consumer.request_stop()
        if self.counters_publisher is not None:
            self.counters_publisher.request_stop()
        for periodic in self.periodic:
            periodic.request_stop()
        if self.consumer_tasks:
            _, pending = await asyncio.wait(self.consumer_tasks, timeout=STOP_GRACE_S)
            for task in pending:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*pending, return_exceptions=True)
        await super().on_stop()
        await self.deps.stop()


def create_app(settings: FanoutSettings) -> FanoutApp:
    return FanoutApp(settings)
