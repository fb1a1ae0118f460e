"""Fan-out test fixtures: a fan-out process alone in a fresh topic namespace (so its
consumer groups and topics are its own), a producer, the topic names it uses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice


@dataclass
class Fanout:
    namespace: str
    process: ServiceProcess

    def topic(self, base: str) -> str:
        return f"{self.namespace}.{base}"


@pytest.fixture
def make_fanout(
    stack: StackSlice, spawn_service: Callable[..., ServiceProcess]
) -> Callable[..., Fanout]:
    """A fan-out process (not started) in its own namespace; extra env overrides."""

    def make(namespace: str | None = None, **env: str) -> Fanout:
        ns = namespace or f"{stack.namespace}-f{uuid.uuid4().hex[:6]}"
        env.setdefault("HERALD_FANOUT_WRITE_MAX_FOLLOWERS", "5000")
        env.setdefault("HERALD_FANOUT_RETRY_MAX_S", "1.0")
        return Fanout(ns, spawn_service("fanout", HERALD_NAMESPACE=ns, **env))

    return make


@pytest.fixture
async def producer(stack: StackSlice) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True, linger_ms=5
    )
    await p.start()
    yield p
    await p.stop()


@pytest.fixture(scope="module")
async def fanout5k(stack: StackSlice, service_logs: Path) -> AsyncIterator[Fanout]:
    """One running fan-out (write threshold 5,000) shared by the tests of a module."""
    ns = f"{stack.namespace}-f{uuid.uuid4().hex[:6]}"
    process = ServiceProcess(
        "fanout",
        stack.env(
            HERALD_NAMESPACE=ns,
            HERALD_FANOUT_WRITE_MAX_FOLLOWERS="5000",
            HERALD_FANOUT_STATS_FLUSH_INTERVAL_S="0.5",
        ),
        service_logs,
    )
    await process.start()
    yield Fanout(ns, process)
    process.stop()
