"""When Postgres is unreachable the feed answers 503 problems (never a 500 or a hang) and
recovers by itself when it is back."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.support.faults import postgres_proxy
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


async def test_postgres_down_is_a_503_then_service_resumes(
    stack: StackSlice, spawn_service: Callable[..., ServiceProcess]
) -> None:
    proxy, via_proxy = await postgres_proxy(stack.database_url)
    service = await spawn_service("feed", HERALD_DATABASE_URL=via_proxy).start()
    reader = auth("reader-outage")
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
            assert (await http.get("/v1/directory")).status_code == 200

            await proxy.cut()
            for path in ("/v1/directory", "/v1/me/follows", "/v1/updates", "/v1/timeline"):
                response = await http.get(path, headers=reader)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["type"].endswith("/database-unavailable")

            await proxy.restore()
            assert (await http.get("/v1/me/follows", headers=reader)).status_code == 200
    finally:
        service.stop()
        await proxy.cut()
