"""The authorization matrix: every endpoint of the publisher and the feed by anonymous,
plain account, follower, admin of another channel, admin and owner, each cell checked
against the one declaration in `endpoints.py`. Errors are problem+json; a publisher 404
reads exactly like the 404 of a channel that does not exist."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.publisher.conftest import image_bytes
from tests.security.endpoints import ENDPOINTS, Endpoint, resolve
from tests.security.world import ROLES, Role, World
from tests.support.processes import ServiceProcess

_CHANNEL_SEGMENT = re.compile(r"^/v1/channels/[^/]+")


async def _call(
    http: httpx.AsyncClient, endpoint: Endpoint, path: str, headers: dict[str, str], world: World
) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers}
    if endpoint.body is not None:
        kwargs["json"] = endpoint.body(world)
    if endpoint.upload:
        kwargs["files"] = {"file": ("a.png", image_bytes("PNG"), "image/png")}
    if endpoint.stream:
        # Only the status and headers matter; the stream is closed at once.
        async with http.stream(endpoint.method, path, **kwargs) as response:
            await response.aclose() if response.status_code == 200 else await response.aread()
            return response
    return await http.request(endpoint.method, path, **kwargs)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name.replace(" ", "-"))
async def test_authz_cell(
    endpoint: Endpoint,
    role: Role,
    world: World,
    pub: httpx.AsyncClient,
    fd: httpx.AsyncClient,
) -> None:
    http = pub if endpoint.service == "publisher" else fd
    path = await resolve(endpoint.path, world)
    headers = await world.caller(role)
    response = await _call(http, endpoint, path, headers, world)
    expected = endpoint.status_for(role)
    assert response.status_code == expected, (endpoint.name, role, response.text)
    if expected >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == expected
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if expected == 404 and endpoint.service == "publisher":
        ghost_path = _CHANNEL_SEGMENT.sub(f"/v1/channels/{uuid.uuid4()}", path)
        ghost = await _call(http, endpoint, ghost_path, headers, world)
        assert (ghost.status_code, ghost.json()) == (404, response.json())


async def test_every_published_route_is_declared(
    publisher: ServiceProcess, feed: ServiceProcess
) -> None:
    declared = {(e.service, e.method, e.route) for e in ENDPOINTS}
    served: set[tuple[str, str, str]] = set()
    async with httpx.AsyncClient(timeout=10) as http:
        for process in (publisher, feed):
            spec = (await http.get(f"{process.base_url}/openapi.json")).json()
            for route, operations in spec["paths"].items():
                for method in operations:
                    served.add((process.name, method.upper(), route))
    # /metrics is on the operations port, not here (tests/integration/foundation/
    # test_metrics_port.py).
    assert served - declared == set(), "routes without a row in endpoints.py"
    assert declared - served == set()
