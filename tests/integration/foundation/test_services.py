"""Every service starts on the real stack, reports ready, and reports not-ready (503) when
Postgres becomes unreachable, then ready again when it is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.faults import postgres_proxy
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice


async def _status_until(url: str, wanted: int, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    status = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                status = (await client.get(url)).status_code
            except httpx.HTTPError:
                status = 0
            if status == wanted:
                return status
            await asyncio.sleep(0.3)
    return status


@pytest.mark.parametrize("name", ["publisher", "feed", "fanout", "retention"])
async def test_service_is_ready_and_then_not_when_postgres_is_unreachable(
    name: str, stack: StackSlice, spawn_service: Callable[..., ServiceProcess]
) -> None:
    proxy, via_proxy = await postgres_proxy(stack.database_url)
    service = await spawn_service(name, HERALD_DATABASE_URL=via_proxy).start()
    try:
        async with httpx.AsyncClient(base_url=service.base_url, timeout=5) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"postgres": True, "kafka": True}
            metrics = (await client.get(f"{service.ops_url}/metrics")).text
            names = {family.name for family in text_string_to_metric_families(metrics)}
            assert "herald_build_info" in names

        await proxy.cut()
        assert await _status_until(f"{service.base_url}/readyz", 503) == 503
        async with httpx.AsyncClient(base_url=service.base_url, timeout=5) as client:
            body = (await client.get("/readyz")).json()
            assert body["checks"]["postgres"] is False
            assert body["status"] == 503
            # Alive, only not ready: an orchestrator must not restart it for this.
            assert (await client.get("/healthz")).status_code == 200

        await proxy.restore()
        assert await _status_until(f"{service.base_url}/readyz", 200) == 200
    finally:
        service.stop()
        await proxy.cut()
