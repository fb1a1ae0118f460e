"""When Postgres is unreachable the publisher answers 503 problems, promptly, and
recovers by itself when it is back."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.publisher.conftest import channel_body
from tests.support.faults import postgres_proxy
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth


async def test_postgres_down_is_a_503(
    stack: StackSlice, spawn_service: Callable[..., ServiceProcess]
) -> None:
    proxy, via_proxy = await postgres_proxy(stack.database_url)
    service = await spawn_service("publisher", HERALD_DATABASE_URL=via_proxy).start()
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
            owner = auth("owner-outage")
            created = await http.post("/v1/channels", json=channel_body(), headers=owner)
            assert created.status_code == 201
            channel_id = created.json()["channel_id"]

            await proxy.cut()
            for method, path, body in (
                ("POST", "/v1/channels", channel_body()),
                ("GET", f"/v1/channels/{channel_id}", None),
                ("POST", f"/v1/channels/{channel_id}/posts", {"type": "text", "text": "x"}),
            ):
                response = await http.request(method, path, json=body, headers=owner)
                assert response.status_code == 503, response.text
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["type"].endswith("/database-unavailable")

            await proxy.restore()
            back = await http.get(f"/v1/channels/{channel_id}", headers=owner)
            assert back.status_code == 200
    finally:
        service.stop()
        await proxy.cut()
