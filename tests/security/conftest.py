"""Fixtures of the security suite: clients of the session's publisher and feed, and a
`World` built through the real APIs (publisher → posts topic → fan-out → feed).

Every test here needs the local Kafka and Postgres, so all are marked `integration`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.security.world import World, build_world
from tests.support.processes import ServiceProcess

SECURITY_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SECURITY_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
async def pub(publisher: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as http:
        yield http


@pytest.fixture
async def fd(feed: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=20) as http:
        yield http


@pytest.fixture(scope="module")
async def world(
    publisher: ServiceProcess, feed: ServiceProcess, fanout: ServiceProcess
) -> AsyncIterator[World]:
    """One channel with an owner, an admin, a visible photo post and poll, and an outsider
    who administers another channel; shared by the tests of a module."""
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        yield await build_world(pub, fd)
