"""The fan-out faust app: wiring of agents, dependencies and the operations endpoints."""

from __future__ import annotations

import logging

import faust

from services.fanout.config import FanoutSettings
from shared.http.ops import Readiness, create_ops_app, ops_server
from shared.runtime import Dependencies
from shared.topics import POSTS

log = logging.getLogger(__name__)

SERVICE = "fanout"


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
        )
        self.herald_settings = settings
        self.readiness = Readiness()
        self.deps = Dependencies(settings=settings, service=SERVICE, readiness=self.readiness)

    async def on_stop(self) -> None:
        await super().on_stop()
        await self.deps.stop()


def create_app(settings: FanoutSettings) -> FanoutApp:
    app = FanoutApp(settings)

    @app.task(on_leader=False)  # type: ignore[untyped-decorator]
    async def serve_operations() -> None:
        server = ops_server(
            create_ops_app(SERVICE, app.readiness), settings.ops_host, settings.ops_port
        )
        await app.deps.start()
        await server.serve()

    return app
