"""CORS: browsers on the origins in HERALD_CORS_ORIGINS may call the feed and publisher
APIs; other origins get no permission, and with the setting empty no CORS header is sent."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

APP = "https://app.example.org"
ADMIN = "https://admin.example.org"
OTHER = "https://evil.example.net"


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def _cors_headers(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name.lower().startswith("access-control-")}


async def test_allowed_origins_get_cors_answers_others_do_not(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    feed = await spawn_service("feed", HERALD_CORS_ORIGINS=f"{APP}, {ADMIN}").start()
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=10) as http:
        for origin in (APP, ADMIN):
            ok = await http.options("/v1/stream/tickets", headers=_preflight(origin))
            assert ok.status_code == 200
            assert ok.headers["access-control-allow-origin"] == origin
            allowed = ok.headers["access-control-allow-headers"].lower()
            for header in ("authorization", "content-type", "idempotency-key", "last-event-id"):
                assert header in allowed
            assert "POST" in ok.headers["access-control-allow-methods"]

        refused = await http.options("/v1/stream/tickets", headers=_preflight(OTHER))
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        # The real request: the browser may read the answer and its Retry-After.
        me = auth("cors-browser")
        issued = await http.post("/v1/stream/tickets", headers={**me, "Origin": APP})
        assert issued.status_code == 200
        assert issued.headers["access-control-allow-origin"] == APP
        exposed = issued.headers["access-control-expose-headers"].lower()
        assert "retry-after" in exposed
        assert "x-request-id" in exposed
        # Also on errors, so a script can read the problem it caused.
        missing = await http.post("/v1/stream/tickets", headers={"Origin": APP})
        assert missing.status_code == 401
        assert missing.headers["access-control-allow-origin"] == APP

        elsewhere = await http.get("/v1/directory", headers={"Origin": OTHER})
        assert elsewhere.status_code == 200
        assert "access-control-allow-origin" not in elsewhere.headers


async def test_publisher_answers_cors_for_allowed_origins(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    publisher = await spawn_service("publisher", HERALD_CORS_ORIGINS=ADMIN).start()
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
        ok = await http.options("/v1/channels", headers=_preflight(ADMIN))
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == ADMIN
        refused = await http.options("/v1/channels", headers=_preflight(APP))
        assert "access-control-allow-origin" not in refused.headers


async def test_without_the_setting_no_cors_headers_at_all(feed: ServiceProcess) -> None:
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=10) as http:
        preflight = await http.options("/v1/stream/tickets", headers=_preflight(APP))
        assert _cors_headers(preflight) == set()
        issued = await http.post(
            "/v1/stream/tickets", headers={**auth("no-cors-browser"), "Origin": APP}
        )
        assert issued.status_code == 200
        assert _cors_headers(issued) == set()
