"""Failed authentication is rate-limited per client IP (issue #19 item 8): once an address
has spent its burst of invalid or malformed tokens, its bearer requests answer 429 with
`Retry-After` before any token is verified — a list of guessed or stolen tokens cannot be
tried at speed, and a valid one among them cannot be told apart meanwhile. Requests
without a token are not failures, and operator paths keep answering their 404.

The publisher and feed here are dedicated processes with a burst of a few failures and a
refill too slow to matter during the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.tokens import auth, operator_auth, token_for

BURST = 3
LIMITS = {
    "HERALD_AUTH_FAILURE_BURST": str(BURST),
    # One failure forgiven every 1000 s: none comes back while the test runs.
    "HERALD_AUTH_FAILURE_RATE_PER_SECOND": "0.001",
}
BAD_TOKENS = [
    "Bearer not.a.jwt",
    f"Bearer {token_for('someone', ttl_s=-3600)}",  # expired
    "Basic dXNlcjpwdw==",  # not a bearer token at all
]


@pytest.fixture
async def services(
    spawn_service: Callable[..., ServiceProcess],
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    publisher, feed = spawn_service("publisher", **LIMITS), spawn_service("feed", **LIMITS)
    await asyncio.gather(publisher.start(), feed.start())
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        yield pub, fd


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/rate-limited")
    assert int(response.headers["Retry-After"]) >= 1


async def test_invalid_tokens_from_one_address_are_limited(
    services: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    pub, fd = services
    for authorization in BAD_TOKENS[:BURST]:
        refused = await fd.get("/v1/timeline", headers={"Authorization": authorization})
        assert refused.status_code == 401, refused.text
    # The burst is spent: the next bad token is not even looked at...
    assert_limited(await fd.get("/v1/timeline", headers={"Authorization": BAD_TOKENS[0]}))
    assert_limited(await fd.get("/v1/directory", headers={"Authorization": BAD_TOKENS[1]}))
    # ...nor is a good one from the same address, so it cannot be picked out of a list.
    assert_limited(await fd.get("/v1/timeline", headers=auth("real-account")))
    # Reading without a token is no failed authentication: the public directory answers.
    anonymous = await fd.get("/v1/directory")
    assert anonymous.status_code == 200, anonymous.text
    # Each service keeps its own count: the publisher still verifies this address's token.
    read = await pub.get(
        "/v1/channels/01a23cde-0000-7000-8000-000000000000", headers=auth("real-account")
    )
    assert read.status_code == 404, read.text  # authenticated; no such channel


async def test_an_operator_path_stays_hidden_when_the_address_is_limited(
    services: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    pub, _ = services
    for authorization in BAD_TOKENS[:BURST]:
        hidden = await pub.get("/v1/operator/appeals", headers={"Authorization": authorization})
        assert hidden.status_code == 404, hidden.text
    # Past the burst the operator API still answers exactly like a path that is not there,
    # even to an operator's token from that address (it is not verified).
    for headers in ({"Authorization": BAD_TOKENS[0]}, operator_auth("op-1")):
        hidden = await pub.get("/v1/operator/appeals", headers=headers)
        assert hidden.status_code == 404, hidden.text
    # Elsewhere the same address is told to wait.
    assert_limited(await pub.post("/v1/channels", json={}, headers=auth("real-account")))
