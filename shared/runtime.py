"""Start-up and shutdown pieces every service process shares.

`Dependencies` opens what a service needs (Postgres pool, migrated schema, declared
topics, the holder of the idempotent producer), each with a bounded wait, and registers
the readiness checks for them. `serve_http` runs an ASGI app on uvicorn with uvloop and
httptools, on the bounded protocol of `shared.http.protocol` (request heads capped in
size and time), and its operations endpoints on their own port in the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from dataclasses import dataclass

import asyncpg
import uvicorn
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from shared.db.migrate import migrate
from shared.db.pool import create_pool, observe_pool, postgres_reachable
from shared.http.ops import EmbeddedServer, Readiness, create_ops_app, ops_server
from shared.http.protocol import BoundedHttpProtocol, HttpLimits
from shared.kafka import kafka_reachable, make_producer
from shared.metrics import multiprocess
from shared.metrics.common import BUILD_INFO
from shared.producer import ProducerHolder
from shared.retry import retry_until
from shared.settings import HeraldSettings
from shared.topics import ensure_topics

VERSION = "0.1.0"
log = logging.getLogger(__name__)
# How often a worker of a multiprocess service refreshes its pool gauges.
POOL_OBSERVE_S = 5.0


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
    # Its code takes session-level advisory locks on pooled connections (see db.pool).
    session_state: bool = False
    _observer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        BUILD_INFO.labels(service=self.service, version=VERSION).set(1)
        self.pool = await create_pool(self.settings, session_state=self.session_state)
        async with self.pool.acquire() as conn:
            await migrate(conn)
        pool = self.pool
        self.readiness.scrape_hooks.append(lambda: observe_pool(pool, self.service))
        if multiprocess.enabled():
            # A scrape runs the hooks of the one worker it reaches: the others refresh
            # their pool gauges on a timer instead.
            self._observer = asyncio.create_task(self._observe_pool(pool), name="observe-pool")
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
        # Both checks are registered only once both connections exist: /readyz answers 200
        # only when every registered check passes, so an early single check would claim
        # readiness while Kafka was still unreached.
        self.readiness.add("postgres", lambda: postgres_reachable(pool))
        self.readiness.add("kafka", lambda: kafka_reachable(producer))

    async def _observe_pool(self, pool: asyncpg.Pool) -> None:
        while True:
            observe_pool(pool, self.service)
            await asyncio.sleep(POOL_OBSERVE_S)

    async def stop(self) -> None:
        if self._observer is not None:
            self._observer.cancel()
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


@dataclass(frozen=True)
class OpsListener:
    """Where a service's operations endpoints (`shared.http.ops.create_ops_app`) listen."""

    app: FastAPI
    host: str
    port: int

    @classmethod
    def beside(cls, service: str, app: FastAPI, host: str, port: int) -> OpsListener:
        """The operations endpoints of an HTTP service `app`, answering `/readyz` from the
        same checks as the app itself (`app.state.readiness`)."""
        return cls(create_ops_app(service, app.state.readiness), host, port)


def serve_http(
    app: FastAPI,
    host: str,
    port: int,
    *,
    ops: OpsListener | None = None,
    http: type[BoundedHttpProtocol] = BoundedHttpProtocol,
    reuse_port: bool = False,
) -> None:
    """Run an HTTP service until SIGINT/SIGTERM (uvicorn handles both gracefully).
    `ops`: the operations endpoints, served on their own port from before the app's
    start-up until after its shutdown; a port that cannot be bound ends the process
    (status 1). `http` is the connection protocol: `BoundedHttpProtocol` or a subclass,
    bound to `HERALD_HTTP_MAX_HEADER_BYTES` / `HERALD_HTTP_HEADER_TIMEOUT_S` here.
    `reuse_port`: bind the listening socket with SO_REUSEPORT, so several processes each
    bind their own socket on the same port and the kernel spreads new connections over
    them (the feed's workers, see `services.feed.workers`). Exits with status 3 when
    the app does not start, as `uvicorn.run` does."""
    limits = HttpLimits()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=http.with_limits(limits),
        backlog=LISTEN_BACKLOG,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # Bound connections per process; SSE clients hold one each.
        limit_concurrency=20_000,
    )
    ops_embedded = ops_server(ops.app, ops.host, ops.port) if ops is not None else None
    server = _Server(config, ops_embedded)
    server.run(sockets=[reuse_port_socket(host, port)] if reuse_port else None)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


# uvicorn's exit status for an app that did not start.
STARTUP_FAILURE = 3
# Logged by each process serving a shared port once it accepts connections.
LISTENING = "listening on a shared port"


class _Server(uvicorn.Server):
    """uvicorn's server, running the operations server beside it, and saying when a
    process with its own socket (one of several on a port) starts accepting: uvicorn logs
    nothing then."""

    def __init__(self, config: uvicorn.Config, ops: EmbeddedServer | None) -> None:
        super().__init__(config)
        self.ops = ops

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        if self.ops is None:
            await super().serve(sockets=sockets)
            return
        # Up before the app's start-up, so a scrape during a long dependency wait sees
        # the process (and /readyz on it says "starting").
        ops_task = asyncio.create_task(self.ops.serve(), name="ops-server")
        try:
            await super().serve(sockets=sockets)
        finally:
            self.ops.should_exit = True
            await ops_task

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if sockets is not None and self.started:
            port = sockets[0].getsockname()[1]
            log.info(LISTENING, extra={"port": port, "pid": os.getpid()})


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT (and SO_REUSEADDR, so a
    restarted process binds while old connections linger); the server listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
