"""Fixtures of the push journeys: real publisher, fan-out, feed and push processes, and a
loopback push receiver (tests/support/push_receiver.py) the subscriptions point at.

Loopback `http` endpoints are admitted only by `HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS`, so
the feed and push processes of these tests are started with it (the session's feed
keeps production rules)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.push_receiver import PushReceiver

INSECURE = {"HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS": "true"}


@pytest.fixture
async def push_feed(spawn_service: Callable[..., ServiceProcess]) -> ServiceProcess:
    """A feed that accepts the receiver's loopback endpoints."""
    return await spawn_service("feed", **INSECURE).start()


@pytest.fixture
async def receiver(push_feed: ServiceProcess) -> AsyncIterator[PushReceiver]:
    """A push service on loopback that knows the VAPID key the feed hands out."""
    async with httpx.AsyncClient(base_url=push_feed.base_url, timeout=10) as http:
        response = await http.get("/v1/push/key")
    assert response.status_code == 200, response.text
    async with PushReceiver(response.json()["public_key"]) as push_receiver:
        yield push_receiver


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`, in Prometheus text
    format (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        found = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if found is None or found.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(found.group(3))
    return total


async def metrics_of(process: ServiceProcess) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{process.base_url}/metrics")
    assert response.status_code == 200
    return response.text


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60.0
) -> None:
    """Wait until `check()` is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
