"""Per-account rate limits answer 429 with Retry-After; other accounts are unaffected."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.publisher.conftest import account
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth


async def test_rate_limit_per_account(spawn_service: Callable[..., ServiceProcess]) -> None:
    service = await spawn_service(
        "publisher", HERALD_RATE_PER_SECOND="0.1", HERALD_RATE_BURST="3"
    ).start()
    noisy, quiet = auth(account()), auth(account())
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10) as http:
        statuses = [(await http.get("/v1/channels/" + "0" * 32, headers=noisy)) for _ in range(4)]
        assert [r.status_code for r in statuses] == [404, 404, 404, 429]
        limited = statuses[-1]
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1
        assert (await http.get("/v1/channels/" + "0" * 32, headers=quiet)).status_code == 404
