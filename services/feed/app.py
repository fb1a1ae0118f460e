"""The feed's FastAPI app: wiring only; routes live in `api/routes/`.

At start: the shared dependencies (pool, migrations, topics, producer), then the SSE hub
(its heartbeat timer) and the live consumer (herald.live.v1 from the end, one task for
the process). Serve it with `live.transport.StreamingHttpProtocol` (see `__main__`): the
hub writes to the streams' transports.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.feed.api.routes import (
    channels,
    directory,
    follows,
    interactions,
    media,
    push,
    reports,
    stream,
    tickets,
    timeline,
    updates,
)
from services.feed.config import FeedSettings
from services.feed.live.consumer import LiveConsumer
from services.feed.live.hub import Hub
from services.feed.live.render import END_OF_BODY
from services.feed.live.starts import StreamStarts
from shared.db.pool import create_read_pool, postgres_reachable
from shared.events.live import account_tag
from shared.http.app import create_http_app
from shared.http.ops import Readiness
from shared.runtime import VERSION, Dependencies

SERVICE = "feed"
# `HERALD_FEED_SSE_QUEUE_MAX` counts events; the hub bounds bytes. A post event is at most
# a few KiB (4096 characters of text and its JSON), so this many bytes per event.
SSE_BYTES_PER_EVENT = 8 * 1024
# Allocations between collections of the youngest generation (CPython's default: 700).
GC_YOUNG_THRESHOLD = 20_000
log = logging.getLogger(__name__)


def create_app(settings: FeedSettings | None = None) -> FastAPI:
    settings = settings or FeedSettings()
    readiness = Readiness()
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness)
    hub = Hub(
        buffer_max=settings.sse_queue_max * SSE_BYTES_PER_EVENT,
        per_account=settings.sse_streams_per_account,
        total_max=settings.sse_max_connections,
        account_tag=functools.partial(account_tag, settings.live_signal_key),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The VAPID key first: a missing key file in production fails the start at once.
        app.state.push_public_key = push.load_push_key(settings)
        await deps.start()
        app.state.deps = deps
        # The replica for anonymous reads (`api.deps.get_anonymous_read_pool`), if any;
        # readiness then includes it: a feed that cannot reach it would fail those reads.
        read_pool = await create_read_pool(settings)
        app.state.read_pool = read_pool
        if read_pool is not None:
            readiness.add("postgres_read", lambda: postgres_reachable(read_pool))
        app.state.stream_starts = StreamStarts(deps.require_pool())
        live = LiveConsumer(settings, deps.require_pool(), hub)
        await live.start()
        task = asyncio.create_task(live.run(), name="feed-live-consumer")
        heartbeats = asyncio.create_task(hub.run(settings.sse_heartbeat_s), name="sse-heartbeat")
        # What start-up built lives as long as the process: keep it out of the cyclic
        # collector's passes, which otherwise walk it again and again while thousands
        # of streams open at once; and collect the youngest generation less often (a
        # request's garbage is freed by reference counting long before). Together they
        # took about an eighth off the CPU time of an open storm.
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            for running in (heartbeats, task):
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            # Streams are the hub's, not the server's: end them cleanly here.
            hub.close_all(END_OF_BODY)
            await live.stop()
            if read_pool is not None:
                await asyncio.wait_for(read_pool.close(), timeout=10)
            await deps.stop()

    app = create_http_app(
        service=SERVICE,
        title="Herald feed API",
        version=VERSION,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
    )
    app.state.hub = hub
    for module in (
        directory,
        channels,
        follows,
        updates,
        timeline,
        interactions,
        stream,
        tickets,
        media,
        push,
        reports,
    ):
        app.include_router(module.router)
    return app
