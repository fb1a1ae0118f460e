"""The retention service's long-running loop: a run every `interval_s`, ops endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.retention.config import RetentionSettings
from shared.http.ops import Readiness, create_ops_app, ops_server
from shared.runtime import Dependencies

log = logging.getLogger(__name__)

SERVICE = "retention"


async def run_service(settings: RetentionSettings, stop: asyncio.Event) -> None:
    readiness = Readiness()
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness)
    server = ops_server(create_ops_app(SERVICE, readiness), settings.ops_host, settings.ops_port)
    serving = asyncio.create_task(server.serve())
    try:
        await deps.start()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.interval_s)
    finally:
        server.should_exit = True
        await serving
        await deps.stop()
