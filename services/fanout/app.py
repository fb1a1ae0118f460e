"""The fan-out process: faust as the process shell, Herald's consumers and tasks inside it.

faust's role here is the process shell and nothing more. `faust.Worker` (see
`__main__`) owns the event loop and the process lifecycle: it starts `FanoutApp` as a
service, turns SIGTERM/SIGINT into an orderly stop (`on_stop` lets each batch in hand
finish its transaction and commit, for up to `STOP_GRACE_S`), dumps task stacks on
SIGUSR1, and exits with the service tree. Everything that touches Kafka, Postgres or
HTTP is Herald's own code started from `on_start`:
- the posts and interactions paths are `BatchConsumer`s (services/fanout/consumer/):
  aiokafka consumers in their own groups that commit `offset + 1` only after the
  Postgres transaction committed;
- the live emitter and the DLQ use the service's own idempotent producer
  (`shared.runtime.Dependencies`);
- the ops endpoints (`/healthz`, `/readyz`, `/metrics`) are Herald's uvicorn server;
- the coalesced counters events, the directory stats and the counters reconciliation
  are `Periodic` tasks.
`ShellBoot` therefore starts none of faust's Kafka machinery (its consumer group and
leader-election topic, its producer, agents, tables), sensors or web server: Herald
declares no faust agents, topics or tables, so those would be a consumer group, a
topic and a broker connection doing nothing.

Why faust does not carry the batches: its batching (`Stream.take`) acks a batch in a
`finally`, so a batch whose write failed or was interrupted is committed although it was
never written — reproduced on the real broker in
tests/integration/fanout/test_faust_take_acks.py. The windowed directory stats are
derived from Postgres (services/fanout/stats.py), so no faust table is needed either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import faust
from faust.app.base import BootStrategy

from services.fanout.config import FanoutSettings
from services.fanout.consumer.loop import BatchConsumer
from services.fanout.consumer.records import Handler
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


class ShellBoot(BootStrategy):
    """Start none of faust's own services: no Kafka consumer or producer, no agents or
    tables, no web server, no sensors. The worker runs the app's `on_start`/`on_stop`."""

    enable_kafka = False
    enable_web = False
    enable_sensors = False


class FanoutApp(faust.App):
    """A faust app as a process shell that owns Herald's dependencies (pool, producer,
    ops server) and runs the fan-out's consumers and periodic tasks."""

    BootStrategy = ShellBoot

    def __init__(self, settings: FanoutSettings) -> None:
        super().__init__(
            settings.group("herald-fanout"),
            store="memory://",
            autodiscover=False,
            web_enabled=False,
        )
        self.herald_settings = settings
        # Parsed at start: a malformed or (in production) missing master key stops here.
        self.masters = settings.content_master_keys()
        self.readiness = Readiness()
        self.deps = Dependencies(settings=settings, service=SERVICE, readiness=self.readiness)
        self.consumers: list[BatchConsumer] = []
        self.consumer_tasks: list[asyncio.Task[None]] = []
        self.periodic: list[Periodic] = []

    async def on_first_start(self) -> None:
        """Nothing to create: faust's data directory holds table stores, and there are
        none (faust's default would leave an empty `<app id>-data` in the working dir)."""

    async def on_start(self) -> None:
        await super().on_start()
        # A future of the app, so the worker's stop cancels what `on_stop` did not end.
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
        counters = CountersPublisher(pool, live, settings.counters_live_interval_s)
        self.consumers = [
            self._batch_consumer(
                POSTS,
                "posts",
                POST_EVENTS,
                PostsHandler(pool, live, settings.write_max_followers, self.masters),
            ),
            self._batch_consumer(
                INTERACTIONS,
                "interactions",
                INTERACTION_EVENTS,
                CountersHandler(pool, counters),
            ),
        ]
        self.consumer_tasks = [asyncio.create_task(c.run()) for c in self.consumers]
        self.periodic = [
            counters,
            StatsRefresher(pool, settings.stats_flush_interval_s),
            Reconciler(pool, counters, settings.reconcile_interval_s),
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
