"""Fixtures of the chaos suite: a stack slice of its own (its processes get killed, so
they never share the session's database or topics) and the cluster of its processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chaos.cluster import Cluster
from tests.support.stack import StackSlice, create_test_stack, destroy_test_stack


@pytest.fixture(scope="module")
async def chaos_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StackSlice]:
    stack = await create_test_stack(str(tmp_path_factory.mktemp("chaos-media")))
    yield stack
    await destroy_test_stack(stack)


@pytest.fixture
async def cluster(
    chaos_stack: StackSlice, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    cluster = Cluster(chaos_stack, Path(tmp_path_factory.mktemp("chaos-logs")))
    try:
        await cluster.start()
        yield cluster
    finally:
        cluster.stop()
