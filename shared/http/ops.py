"""Operational endpoints every service serves: `/healthz`, `/readyz`, `/metrics`.

`/healthz` says the process is alive. `/readyz` runs the service's readiness checks
(Kafka and Postgres reachable) concurrently, each bounded, and answers 503 naming the
failing ones. Every service serves all three from `create_ops_app` on its own operations
port, inside its event loop (`ops_server`; the HTTP services through
`shared.runtime.serve_http`). `/metrics` is served there only: it is for Prometheus, not
for anyone who can reach a public port (counters of live deliveries would tell whether a
channel's followers are online). A public API serves `ops_router` without it, so a load
balancer still checks `/healthz` and `/readyz` there. `/metrics` of a service run as
several worker processes merges them all (`shared.metrics.multiprocess`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from shared.http.problems import problem_response
from shared.http.protocol import BoundedHttpProtocol, HttpLimits
from shared.metrics import multiprocess

ReadinessCheck = Callable[[], Awaitable[bool]]
# Called before each scrape, to refresh gauges that are cheaper to read than to track.
ScrapeHook = Callable[[], None]


class Readiness:
    def __init__(self) -> None:
        self.checks: dict[str, ReadinessCheck] = {}
        self.scrape_hooks: list[ScrapeHook] = []

    def add(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check

    async def run(self) -> dict[str, bool]:
        names = list(self.checks)
        results = await asyncio.gather(*(self.checks[n]() for n in names), return_exceptions=True)
        return {name: result is True for name, result in zip(names, results, strict=True)}


def ops_router(readiness: Readiness, *, metrics: bool = False) -> APIRouter:
    """`/healthz` and `/readyz`; `/metrics` too when `metrics` (operations ports only)."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Kafka and Postgres are reachable", response_model=None)
    async def readyz() -> JSONResponse:
        checks = await readiness.run()
        # No checks yet means the service is still connecting: not ready, or a process
        # that serves /readyz before its dependencies are up would answer 200.
        if checks and all(checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        detail = f"not ready: {failing} unreachable" if failing else "not ready: starting"
        return problem_response(503, detail, type_="not-ready", extra={"checks": checks})

    if not metrics:
        return router

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        for hook in readiness.scrape_hooks:
            hook()
        # Several workers behind one port: every worker's samples, merged.
        return Response(multiprocess.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_ops_app(service: str, readiness: Readiness) -> FastAPI:
    app = FastAPI(title=f"herald-{service} operations", openapi_url=None)
    app.include_router(ops_router(readiness, metrics=True))
    return app


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside a process that owns its signals (faust, retention):
    it never replaces their handlers; the owner stops it with `should_exit = True`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def ops_server(app: FastAPI, host: str, port: int) -> EmbeddedServer:
    """A uvicorn server to run inside an existing event loop (`await server.serve()`), on
    the same bounded protocol as the public APIs (`shared.http.protocol`)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=BoundedHttpProtocol.with_limits(HttpLimits()),
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    return EmbeddedServer(config)
