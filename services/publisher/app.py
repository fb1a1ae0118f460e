"""The publisher's FastAPI app: wiring only; routes live in `api/routes/`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.publisher.config import PublisherSettings
from shared.http.app import create_http_app
from shared.http.ops import Readiness
from shared.runtime import VERSION, Dependencies

SERVICE = "publisher"


def create_app(settings: PublisherSettings | None = None) -> FastAPI:
    settings = settings or PublisherSettings()
    readiness = Readiness()
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await deps.start()
        app.state.deps = deps
        try:
            yield
        finally:
            await deps.stop()

    return create_http_app(
        service=SERVICE,
        title="Herald publisher API",
        version=VERSION,
        settings=settings,
        lifespan=lifespan,
        readiness=readiness,
    )
