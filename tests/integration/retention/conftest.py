"""Fixtures for retention: its settings for this session, a producer, the data builder,
and `run`, which performs one in-process run at a given (default: wall-clock) time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.retention.config import RetentionSettings
from services.retention.run import RunReport, run_once
from shared.kafka import make_producer
from shared.producer import ProducerHolder
from tests.integration.retention.builder import Builder
from tests.support.stack import StackSlice

Run = Callable[..., Coroutine[Any, Any, RunReport]]


@pytest.fixture(scope="session")
def retention_settings(stack: StackSlice) -> RetentionSettings:
    return RetentionSettings(
        environment="test",
        namespace=stack.namespace,
        database_url=stack.database_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        media_dir=Path(stack.media_dir),
        # Small batches: every test crosses several batch boundaries.
        HERALD_RETENTION_BATCH_SIZE=7,
    )


@pytest.fixture(scope="session")
async def retention_producer(
    retention_settings: RetentionSettings,
) -> AsyncIterator[ProducerHolder]:
    producer = make_producer(retention_settings)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture(scope="session")
def builder(db: asyncpg.Pool, stack: StackSlice) -> Builder:
    return Builder(db, Path(stack.media_dir))


@pytest.fixture(scope="session")
def run(
    db: asyncpg.Pool, retention_producer: ProducerHolder, retention_settings: RetentionSettings
) -> Run:
    async def run_at(now: datetime | None = None) -> RunReport:
        return await run_once(db, retention_producer, retention_settings, now or datetime.now(UTC))

    return run_at
