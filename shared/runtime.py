"""Start-up and shutdown pieces every service process shares.

`Dependencies` opens what a service needs (Postgres pool, migrated schema, declared
topics, the holder of the idempotent producer), each with a bounded wait, and registers
the readiness checks for them. `serve_http` runs an ASGI app on uvicorn with uvloop and
httptools.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import asyncpg
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from shared.db.migrate import migrate
from shared.db.pool import create_pool, observe_pool, postgres_reachable
from shared.http.ops import Readiness
from shared.kafka import kafka_reachable, make_producer
from shared.metrics.common import BUILD_INFO
from shared.producer import ProducerHolder
from shared.retry import retry_until
from shared.settings import HeraldSettings
from shared.topics import ensure_topics

VERSION = "0.1.0"


async def wait_for_kafka(settings: HeraldSettings) -> None:
    """Create the declared topics, retrying until the broker answers or time runs out."""
    await retry_until(
        settings.startup_timeout_s,
        lambda: ensure_topics(settings),
        retry_on=(KafkaError, OSError),
        what="kafka",
    )


@dataclass
class Dependencies:
    """The connections one service process holds; `start` opens them, `stop` closes them."""

    settings: HeraldSettings
    service: str
    readiness: Readiness
    pool: asyncpg.Pool | None = None
    producer: ProducerHolder | None = None

    async def start(self) -> None:
        BUILD_INFO.labels(service=self.service, version=VERSION).set(1)
        self.pool = await create_pool(self.settings)
        async with self.pool.acquire() as conn:
            await migrate(conn)
        pool = self.pool
        self.readiness.add("postgres", lambda: postgres_reachable(pool))
        self.readiness.scrape_hooks.append(lambda: observe_pool(pool, self.service))
        await wait_for_kafka(self.settings)
        producer = make_producer(self.settings)
        # Each start is bounded by the holder; a timeout means the broker went away again.
        await retry_until(
            self.settings.startup_timeout_s,
            producer.start,
            retry_on=(KafkaError, OSError, TimeoutError),
            what="kafka producer",
        )
        self.producer = producer
        self.readiness.add("kafka", lambda: kafka_reachable(producer))

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await asyncio.wait_for(self.pool.close(), timeout=10)

    def require_pool(self) -> asyncpg.Pool:
        assert self.pool is not None, "Dependencies.start() not awaited"
        return self.pool

    def require_producer(self) -> ProducerHolder:
        assert self.producer is not None, "Dependencies.start() not awaited"
        return self.producer


# The listen backlog: connections the kernel completes before the process accepts them.
# A reconnect storm (every SSE client of a restarted instance at once) overflows uvicorn's
# default of 2048, and each dropped handshake costs its client a 1, 3, 7… s retransmit
# wait. The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 16_384


def serve_http(
    app: FastAPI,
    host: str,
    port: int,
    *,
    http: type[asyncio.Protocol] | Literal["httptools"] = "httptools",
) -> None:
    """Run an HTTP service until SIGINT/SIGTERM (uvicorn handles both gracefully).
    `http` is the connection protocol: uvicorn's httptools one or a subclass of it."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=http,
        backlog=LISTEN_BACKLOG,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # Bound connections per process; SSE clients hold one each.
        limit_concurrency=20_000,
    )
