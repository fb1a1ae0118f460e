"""The web app's FastAPI app: wiring only; pages live in `routes/`, login in `auth/`.

At start: the Postgres pool and migrations (web owns `web_sessions`), the API client,
and the OIDC client when `HERALD_WEB_AUTH=oidc`. Every request goes through the security
headers middleware; every route through the CSRF check and the session loader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from services.web.api_client import ApiClient
from services.web.auth import routes as auth_routes
from services.web.auth.deps import load_session
from services.web.auth.oidc import OidcClient
from services.web.config import AuthMode, WebSettings
from services.web.errors import install_error_pages
from services.web.pages import STATIC_DIR
from services.web.routes import admin, follower, operator, shell
from services.web.security import SecurityHeadersMiddleware, content_security_policy, require_csrf
from services.web.sessions import SessionStore
from services.web.static_files import CachedStaticFiles
from shared.db.migrate import migrate
from shared.db.pool import create_pool, observe_pool, postgres_reachable
from shared.http.middleware import RequestContextMiddleware
from shared.http.ops import Readiness, ops_router
from shared.metrics.common import BUILD_INFO
from shared.runtime import VERSION

SERVICE = "web"


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        BUILD_INFO.labels(service=SERVICE, version=VERSION).set(1)
        pool = await create_pool(settings)
        async with pool.acquire() as conn:
            await migrate(conn)
        readiness.add("postgres", lambda: postgres_reachable(pool))
        readiness.scrape_hooks.append(lambda: observe_pool(pool, SERVICE))
        app.state.pool = pool
        app.state.sessions = SessionStore(pool)
        app.state.oidc = OidcClient(settings, pool) if settings.auth is AuthMode.OIDC else None
        api = ApiClient(settings.publisher_url, settings.feed_url, timeout_s=settings.api_timeout_s)
        app.state.api = api
        try:
            yield
        finally:
            await api.close()
            await pool.close()

    app = FastAPI(
        title="Herald web",
        version=VERSION,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        # Order matters: a form without its CSRF token is refused before anything runs.
        dependencies=[Depends(require_csrf), Depends(load_session)],
    )
    app.state.settings = settings
    app.state.readiness = readiness
    install_error_pages(app)
    # /healthz and /readyz only: /metrics is on the operations port (see __main__).
    app.include_router(ops_router(readiness))
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth_routes.router)
    app.include_router(shell.router)
    # Page routers (follower, admin, operator) are included here, one line each.
    app.include_router(follower.router)
    app.include_router(admin.router)
    app.include_router(operator.router)
    app.include_router(shell.fallback_router)  # last: `/` when no page router has it
    app.add_middleware(
        SecurityHeadersMiddleware,
        csp=content_security_policy(settings.browser_feed_url),
        secure_cookies=settings.secure_cookies,
    )
    app.add_middleware(RequestContextMiddleware, service=SERVICE)
    return app
