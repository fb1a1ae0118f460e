"""The feed's FastAPI app: wiring only; routes live in `api/routes/`.

At start: the shared dependencies (pool, migrations, topics, producer), then the SSE hub
and the live consumer (herald.live.v1 from the end, one task for the process).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
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
    stream,
    tickets,
    timeline,
    updates,
)
from services.feed.config import FeedSettings
from services.feed.live.consumer import LiveConsumer
from services.feed.live.hub import Hub
from shared.events.live import account_tag
from shared.http.app import create_http_app
from shared.http.ops import Readiness
from shared.runtime import VERSION, Dependencies

SERVICE = "feed"
log = logging.getLogger(__name__)


def create_app(settings: FeedSettings | None = None) -> FastAPI:
    settings = settings or FeedSettings()
    readiness = Readiness()
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness)
    hub = Hub(
        queue_max=settings.sse_queue_max,
        per_account=settings.sse_streams_per_account,
        total_max=settings.sse_max_connections,
        account_tag=functools.partial(account_tag, settings.live_signal_key),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await deps.start()
        app.state.deps = deps
        live = LiveConsumer(settings, deps.require_pool(), hub)
        await live.start()
        task = asyncio.create_task(live.run(), name="feed-live-consumer")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await live.stop()
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
    ):
        app.include_router(module.router)
    return app
