"""The app factory both HTTP services use: one place for middleware, errors and ops routes."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from starlette.types import Scope

from shared.auth import TokenVerifier
from shared.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from shared.http.openapi import problem_openapi
from shared.http.ops import Readiness, ops_router
from shared.http.problems import install_problem_handlers
from shared.http.ratelimit import RateLimiter
from shared.settings import HttpServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_http_app(
    *,
    service: str,
    title: str,
    version: str,
    settings: HttpServiceSettings,
    lifespan: Lifespan,
    readiness: Readiness,
    body_limit_for: Callable[[Scope], int] | None = None,
) -> FastAPI:
    app = FastAPI(title=title, version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.readiness = readiness
    app.state.token_verifier = TokenVerifier(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
    install_problem_handlers(app)
    # Errors are documented as the problem+json they are, not FastAPI's default shape.
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    app.include_router(ops_router(readiness))
    limit = body_limit_for or (lambda _scope: settings.max_body_bytes)
    # Order matters: the outermost middleware (added last) sees every request first.
    app.add_middleware(BodyLimitMiddleware, limit_for=limit)
    app.add_middleware(RequestContextMiddleware, service=service)
    return app
