"""Fixtures of the feed's integration tests: the real feed and fan-out processes of the
session, a producer for publishing posts, and an HTTP client of the feed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.kafka import make_producer
from shared.producer import ProducerHolder
from tests.integration.feed.builder import Publisher
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice


@pytest.fixture(scope="session")
async def posts_producer(stack: StackSlice) -> AsyncIterator[ProducerHolder]:
    producer = make_producer(stack.settings())
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
async def publish(
    posts_producer: ProducerHolder, stack: StackSlice, fanout: ServiceProcess
) -> Publisher:
    """Publishing needs the session's fan-out running to persist the posts."""
    return Publisher(posts_producer, stack)


@pytest.fixture
async def client(feed: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=10) as http:
        yield http
