"""Session-wide fixtures. Tests under `tests/integration/` are marked `integration` and get
an isolated database and topic namespace on the real local Kafka and Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice, create_test_stack, destroy_test_stack

INTEGRATION_DIR = Path(__file__).parent / "integration"


CHAOS_DIR = Path(__file__).parent / "chaos"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
    # The chaos suite may restart the shared Kafka and Postgres (CI, `make chaos`): run it
    # last, so no other test runs across such a restart.
    items.sort(key=lambda item: CHAOS_DIR in Path(str(item.fspath)).parents)


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StackSlice]:
    media = tmp_path_factory.mktemp("media")
    test_stack = await create_test_stack(str(media))
    yield test_stack
    await destroy_test_stack(test_stack)


@pytest.fixture(scope="session")
async def db(stack: StackSlice) -> AsyncIterator[asyncpg.Pool]:
    from shared.db.pool import create_pool

    pool = await create_pool(stack.settings(), min_size=1, max_size=5)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def service_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture
def spawn_service(stack: StackSlice, service_logs: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Make (not start) service processes; every one made is stopped after the test."""
    made: list[ServiceProcess] = []

    def make(name: str, **env: str) -> ServiceProcess:
        process = ServiceProcess(name, stack.env(**env), service_logs)
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()


async def _session_service(
    name: str, stack: StackSlice, service_logs: Path, **env: str
) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(name, stack.env(**env), service_logs)
    await process.start()
    yield process
    process.stop()


# One instance of each service for the whole session, started on first use. Tests that
# kill or pause a service make their own with `spawn_service` instead.
@pytest.fixture(scope="session")
async def publisher(stack: StackSlice, service_logs: Path) -> AsyncIterator[ServiceProcess]:
    async for process in _session_service("publisher", stack, service_logs):
        yield process


@pytest.fixture(scope="session")
async def feed(stack: StackSlice, service_logs: Path) -> AsyncIterator[ServiceProcess]:
    async for process in _session_service("feed", stack, service_logs):
        yield process


# The session's fan-out writes feed rows only for channels of at most this many followers,
# so tests can build a "large", read-time-merged channel with a handful of accounts.
SESSION_FANOUT_WRITE_MAX_FOLLOWERS = 20


@pytest.fixture(scope="session")
async def fanout(stack: StackSlice, service_logs: Path) -> AsyncIterator[ServiceProcess]:
    async for process in _session_service(
        "fanout",
        stack,
        service_logs,
        HERALD_FANOUT_WRITE_MAX_FOLLOWERS=str(SESSION_FANOUT_WRITE_MAX_FOLLOWERS),
    ):
        yield process
