"""The app factory both HTTP services use: one place for middleware, errors and ops routes.

CORS: with `HERALD_CORS_ORIGINS` set, browsers on those origins may call the API (token in
`Authorization`, never cookies, so no credentials mode); a preflight from any other
origin is refused and no response names another origin. Unset, no CORS header is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import Depends, FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Scope

from shared.auth import TokenVerifier
from shared.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from shared.http.openapi import problem_openapi
from shared.http.ops import Readiness, ops_router
from shared.http.params import refuse_control_characters
from shared.http.problems import install_problem_handlers
from shared.http.ratelimit import RateLimiter
from shared.settings import HttpServiceSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# What Herald's browser clients send beyond the CORS-safelisted headers.
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID")
# Response headers a browser script may read: when to retry (429/503), where a created
# resource is, and the request id to quote in a bug report.
CORS_EXPOSED_HEADERS = ("Retry-After", "Location", "X-Request-ID")
# Browsers cap it themselves (Chrome: 2 h); 10 min saves most preflights.
CORS_MAX_AGE_S = 600


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
    # Every route's path segments and query values obey shared.text's single-line rule.
    app = FastAPI(
        title=title,
        version=version,
        lifespan=lifespan,
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.settings = settings
    app.state.readiness = readiness
    app.state.token_verifier = TokenVerifier(settings)
    app.state.rate_limiter = RateLimiter(settings.rate_per_second, settings.rate_burst)
    app.state.auth_failure_limiter = RateLimiter(
        settings.auth_failure_rate_per_second, settings.auth_failure_burst
    )
    install_problem_handlers(app)
    # Errors are documented as the problem+json they are, not FastAPI's default shape.
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    app.include_router(ops_router(readiness))
    limit = body_limit_for or (lambda _scope: settings.max_body_bytes)
    # Order matters: the outermost middleware (added last) sees every request first.
    app.add_middleware(BodyLimitMiddleware, limit_for=limit)
    origins = settings.cors_origin_list
    if origins:
        # Outside the body limit, so a browser can read even a 413.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            max_age=CORS_MAX_AGE_S,
        )
    app.add_middleware(RequestContextMiddleware, service=service)
    return app
