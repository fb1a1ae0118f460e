"""Fault injection under load: every fault is proven to have happened, no acknowledged
post, follow or unfollow is lost, no post duplicated, counts match a recount, nothing
expired is served, and fan-out's lag drains after every fault.

Sizes: `HERALD_CHAOS_TRIALS` trials (default: one of each fault kind, the reduced run
of `make test`); `make chaos` runs at least 20. `HERALD_CHAOS_SEED` replays a schedule.
Restarts of the shared Kafka and Postgres join in only with
HERALD_CHAOS_RESTART_SERVERS=1 (`make chaos`, and CI, where `CI=true` turns it on here).
"""

from __future__ import annotations

import os
import random
import time

import pytest

from tests.chaos.checker import Checker
from tests.chaos.cluster import Cluster, LagProbe
from tests.chaos.faults import RESTART_SERVERS_VAR, fault_kinds, schedule
from tests.chaos.load import Client, Load, Told
from tests.chaos.runner import FIELDS, Runner, report
from tests.chaos.setup import build_world
from tests.support.stack import StackSlice

pytestmark = pytest.mark.integration


async def test_faults_under_load(
    cluster: Cluster, chaos_stack: StackSlice, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.environ.get("CI") == "true":
        monkeypatch.setenv(RESTART_SERVERS_VAR, "1")
    seed = int(os.environ.get("HERALD_CHAOS_SEED") or time.time_ns() % 1_000_000)
    kinds = fault_kinds()
    trials = int(os.environ.get("HERALD_CHAOS_TRIALS") or len(kinds))
    faults = schedule(kinds, trials, random.Random(seed))
    print(f"\nchaos: seed {seed} ({RESTART_SERVERS_VAR}={os.environ.get(RESTART_SERVERS_VAR)})")

    told = Told()
    world, expired_channel, expired_posts = await build_world(
        cluster.url("publisher"), cluster.url("feed"), chaos_stack.database_url, told
    )
    client = Client(cluster.url("publisher"), cluster.url("feed"), told)
    probe = LagProbe(chaos_stack)
    checker = Checker(
        cluster.url("feed"), chaos_stack.database_url, told, world, expired_channel, expired_posts
    )
    runner = Runner(cluster, probe, Load(client, world, seed), checker, seed)
    try:
        await runner.run(faults)
    finally:
        await client.close()
        await probe.close()
        print(report(runner), flush=True)

    assert told.posts, "the load published nothing"
    assert runner.totals() == dict.fromkeys([*FIELDS, "stalled", "unproven"], 0), report(runner)
    never = [t.fault.value for t in runner.trials if t.recovery_s is None]
    assert not never, f"fan-out lag never drained after: {never}"
