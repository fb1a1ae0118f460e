"""Web tests without a browser: the web process (and, for OIDC, a real OpenID provider)
driven over HTTP.

The provider is `oidc-provider-mock` (a real OIDC server made for tests) in a thread of
the test process, with one change: its access tokens are JWTs (RS256 under its own key,
with issuer and audience), as a production provider's are, so the feed verifies them
through the provider's JWKS exactly as it would in production.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
import werkzeug.serving
from authlib import jose
from oidc_provider_mock import init_app

from tests.support.processes import ServiceProcess, free_port
from tests.support.stack import StackSlice

AUDIENCE = "herald-test"
CLIENT_ID = "herald-web"


def _jwt_access_token(client: Any, grant_type: str, user: Any, scope: str) -> str:
    """An access token as a JWT the APIs can verify: signed with the provider's key."""
    key = flask.g.oidc_provider_mock_storage.jwk
    now = int(time.time())
    claims = {
        "iss": flask.request.host_url.rstrip("/"),
        "aud": AUDIENCE,
        "sub": user.sub,
        "iat": now,
        "exp": now + 3600,
        "jti": secrets.token_hex(8),
    }
    header = {"alg": "RS256", "kid": key.as_dict()["kid"]}
    token: bytes = jose.jwt.encode(header, claims, key)
    return token.decode()


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[str]:
    """The provider's issuer URL (`http://localhost:<port>`)."""
    app = flask.Flask("oidc-provider")
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = _jwt_access_token
    app.secret_key = secrets.token_bytes(16)
    init_app(app, require_nonce=True)
    port = free_port()
    server = werkzeug.serving.make_server("localhost", port, app, threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    yield f"http://localhost:{port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
async def oidc_feed(
    stack: StackSlice, service_logs: Path, oidc_provider: str
) -> AsyncIterator[ServiceProcess]:
    """A feed that verifies the provider's tokens by its JWKS."""
    env = stack.env(
        HERALD_JWT_JWKS_URL=f"{oidc_provider}/jwks",
        HERALD_JWT_ISSUER=oidc_provider,
        HERALD_JWT_AUDIENCE=AUDIENCE,
    )
    process = ServiceProcess("feed", env, service_logs)
    await process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def oidc_web(
    stack: StackSlice, service_logs: Path, oidc_provider: str, oidc_feed: ServiceProcess
) -> AsyncIterator[ServiceProcess]:
    port = free_port()
    env = stack.env(
        # Cookies without `Secure`: this test's client (httpx) sends none over plain http.
        HERALD_ENVIRONMENT="development",
        HERALD_WEB_AUTH="oidc",
        HERALD_WEB_OIDC_ISSUER=oidc_provider,
        HERALD_WEB_OIDC_CLIENT_ID=CLIENT_ID,
        HERALD_WEB_OIDC_CLIENT_SECRET="test-client-secret",
        # The test provider knows no offline_access; it issues refresh tokens anyway.
        HERALD_WEB_OIDC_SCOPES="openid profile",
        HERALD_WEB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HERALD_WEB_FEED_URL=oidc_feed.base_url,
        HERALD_WEB_PUBLISHER_URL="http://127.0.0.1:9",
    )
    process = ServiceProcess("web", env, service_logs, port=port)
    await process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
async def dev_web(stack: StackSlice, service_logs: Path) -> AsyncIterator[ServiceProcess]:
    """A dev-login web whose APIs are unreachable: enough for security and shell tests."""
    env = stack.env(
        HERALD_ENVIRONMENT="development",
        HERALD_WEB_AUTH="dev",
        HERALD_WEB_FEED_URL="http://127.0.0.1:9",
        HERALD_WEB_PUBLISHER_URL="http://127.0.0.1:9",
    )
    process = ServiceProcess("web", env, service_logs)
    await process.start()
    yield process
    process.stop()


async def start_web(
    stack: StackSlice,
    service_logs: Path,
    *,
    publisher_url: str,
    feed_url: str,
    development: bool = True,
) -> ServiceProcess:
    """Start a dev-login web process in front of the given APIs. `development` drops the
    cookies' `Secure` flag, which httpx needs over plain http."""
    port = free_port()
    extra = {"HERALD_ENVIRONMENT": "development"} if development else {}
    env = stack.env(
        HERALD_WEB_AUTH="dev",
        HERALD_WEB_PUBLISHER_URL=publisher_url,
        HERALD_WEB_FEED_URL=feed_url,
        HERALD_WEB_PUBLIC_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    return await ServiceProcess("web", env, service_logs, port=port).start()


@pytest.fixture(scope="module")
async def api_web(
    stack: StackSlice,
    service_logs: Path,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    fanout: ServiceProcess,
) -> AsyncIterator[ServiceProcess]:
    """A dev-login web in front of the session's publisher and feed (fan-out running, so
    posts become visible)."""
    process = await start_web(
        stack, service_logs, publisher_url=publisher.base_url, feed_url=feed.base_url
    )
    yield process
    process.stop()
