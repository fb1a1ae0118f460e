"""Fixtures of cluster mode's service processes (beside the `data_plane` fixture): two
processes of each service on the test cluster, in a topic namespace of their own.

The processes get the chaos suite's settings (`tests.chaos.cluster.SERVICE_ENV`: fast
counters and retention, raised rate limits, a small write fan-out threshold): the only
user of these fixtures is the cluster chaos run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from deploy.cluster.dataplane import DataPlane
from deploy.cluster.services import ClusterServices
from tests.chaos.cluster import SERVICE_ENV
from tests.chaos.cluster_mode import ClusterSystem
from tests.support.stack import TEST_CONTENT_MASTER_KEY, StackSlice

# The full run (`make chaos-cluster`) pauses a fan-out for 20 s; `make test` for less.
PAUSE_VAR = "HERALD_CLUSTER_CHAOS_PAUSE_S"
REDUCED_PAUSE_S = 8.0


@pytest.fixture(scope="module")
async def cluster_system(data_plane: DataPlane) -> AsyncIterator[ClusterSystem]:
    layout = data_plane.layout
    namespace = f"c{uuid.uuid4().hex[:10]}"
    env = {
        **SERVICE_ENV,
        "HERALD_ENVIRONMENT": "test",
        "HERALD_NAMESPACE": namespace,
        "HERALD_CONTENT_MASTER_KEY": TEST_CONTENT_MASTER_KEY,
        "HERALD_LOG_JSON": "true",
    }
    services = ClusterServices(layout, extra_env=env)
    names = StackSlice(
        namespace=namespace,
        database_url=layout.database_url,
        admin_database_url=layout.database_url,
        kafka_bootstrap=layout.kafka_bootstrap,
        media_dir=str(layout.home / "media"),
    )
    pause_s = float(os.environ.get(PAUSE_VAR) or REDUCED_PAUSE_S)
    try:
        await asyncio.to_thread(services.start)
        yield ClusterSystem(layout, data_plane, services, names, pause_s=pause_s)
    finally:
        left = await asyncio.to_thread(services.stop)
        assert not left, f"service processes survived SIGKILL: {left}"
