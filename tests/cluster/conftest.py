"""Cluster-mode tests: a whole data plane of their own (three KRaft brokers, etcd, two
Postgres nodes under Patroni, HAProxy) on `HERALD_TEST_CLUSTER_PORT_BASE` (default
23000), apart from the shared local stack and from a developer's `make cluster`.

Every test here is marked `integration` and `cluster`. A component missing from the
machine fails the `data_plane` fixture: the bootstrap installs them all, so nothing here
ever skips for want of one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.cluster.dataplane import DataPlane
from deploy.cluster.layout import ClusterLayout

CLUSTER_DIR = Path(__file__).parent
PORT_BASE_VAR = "HERALD_TEST_CLUSTER_PORT_BASE"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: starts and breaks a cluster-mode data plane of its own"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if CLUSTER_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def data_plane() -> Iterator[DataPlane]:
    """The test cluster's data plane, started once per session and stopped at its end
    (everything it started, checked gone). Its methods block: call them from a thread
    (`asyncio.to_thread`) inside async tests."""
    plane = DataPlane(ClusterLayout(base=int(os.environ.get(PORT_BASE_VAR, "23000"))))
    try:
        plane.start()
    except (SystemExit, Exception) as exc:
        _stop_quietly(plane)
        # SystemExit would end the whole pytest session instead of failing these tests.
        raise RuntimeError(f"cluster data plane did not start: {exc}") from exc
    yield plane
    try:
        plane.stop()
    except SystemExit as exc:
        raise RuntimeError(str(exc)) from exc


def _stop_quietly(plane: DataPlane) -> None:
    try:
        plane.stop()
    except SystemExit as exc:
        print(f"cluster data plane: {exc}")
