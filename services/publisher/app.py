"""The publisher's FastAPI app: wiring only; routes live in `api/routes/`.

Limits every endpoint shares:
- auth: a bearer token on every `/v1` route (401 without); a caller who is not an admin of
  the channel gets 404; `/v1/operator/…` answers operators only, 404 to anyone else;
- rate: a token bucket per account, `HERALD_RATE_PER_SECOND` (default 20/s) sustained
  with bursts of `HERALD_RATE_BURST` (default 60); over it → 429 with `Retry-After`;
- body: JSON bodies ≤ `HERALD_MAX_BODY_BYTES` (64 KiB) → else 413; the media upload route
  alone accepts up to 64 MiB plus the multipart envelope;
- pages ≤ 100 items; unknown JSON fields → 422;
- Postgres unreachable → 503 `database-unavailable`; broker not acknowledging within
  `HERALD_PRODUCE_TIMEOUT_S` → 503 `broker-unavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.types import Scope

from services.publisher.api.routes import (
    channels,
    deletion_report,
    insights,
    invites,
    media,
    operator,
    pins,
    posts,
    reports,
)
from services.publisher.config import PublisherSettings
from services.publisher.media.upload import MAX_BODY_BYTES
from services.publisher.publishing import Publisher
from services.publisher.scheduler import Scheduler
from shared.http.app import create_http_app
from shared.http.ops import Readiness
from shared.media import LocalMediaStore
from shared.metrics.publisher import POSTS_REJECTED
from shared.runtime import VERSION, Dependencies

SERVICE = "publisher"
log = logging.getLogger(__name__)


def body_limit(settings: PublisherSettings) -> Callable[[Scope], int]:
    """The body limit of a request: the upload route takes files, everything else JSON."""

    def limit_for(scope: Scope) -> int:
        path = scope.get("path", "")
        if scope.get("method") == "POST" and path.endswith(media.UPLOAD_PATH_SUFFIX):
            return MAX_BODY_BYTES
        return settings.max_body_bytes

    return limit_for


def _install_error_handlers(app: FastAPI) -> None:
    # Count publish requests refused by validation, then answer as the shared handler does.
    shared_handler = app.exception_handlers[RequestValidationError]

    async def invalid(request: Request, exc: Exception) -> Response:
        route = request.scope.get("route")
        if request.method == "POST" and getattr(route, "path", None) == posts.PUBLISH_ROUTE:
            POSTS_REJECTED.labels(reason="invalid").inc()
        response = shared_handler(request, exc)
        assert not isinstance(response, Response)
        return await response

    app.add_exception_handler(RequestValidationError, invalid)


def create_app(settings: PublisherSettings | None = None) -> FastAPI:
    settings = settings or PublisherSettings()
    readiness = Readiness()
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness)
    media_store = LocalMediaStore(settings.media_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await deps.start()
        app.state.deps = deps
        app.state.publisher = Publisher(
            pool=deps.require_pool(),
            producer=deps.require_producer(),
            settings=settings,
            service=SERVICE,
        )
        # Scheduled posts go out from every publisher process (they share due rows).
        scheduler = asyncio.create_task(
            Scheduler(deps.require_pool(), app.state.publisher, settings).run(),
            name="scheduler",
        )
        try:
            yield
        finally:
            scheduler.cancel()
            with suppress(asyncio.CancelledError):
                await scheduler
            await deps.stop()

    app = create_http_app(
        service=SERVICE,
        title="Herald publisher API",
        version=VERSION,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
        body_limit_for=body_limit(settings),
    )
    app.state.media_store = media_store
    _install_error_handlers(app)
    for module in (channels, media, posts, insights, invites, operator, deletion_report, reports):
        app.include_router(module.router)
    app.include_router(pins.router)
    return app
