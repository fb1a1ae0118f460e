"""Chaos in cluster mode, under the load generator and history checker of `make chaos`:
no acknowledged post lost or duplicated, no wrong count, whatever one broker, the
Postgres primary or one process of a pair does, and fan-out's lag drains after each.

Reduced (inside `make test`): one trial of each fault kind, a broker leader kill, a
primary kill, one service process kill (which one drawn from the seed) and a fan-out
pause (`HERALD_CLUSTER_CHAOS_PAUSE_S`, 8 s here). Full (`make chaos-cluster`):
`HERALD_CLUSTER_CHAOS_TRIALS` trials (at least 12) over all nine kinds, the pause 20 s.
`HERALD_CHAOS_SEED` replays a schedule. Either run prints the table and writes it as JSON
to `.local/chaos/cluster-<time>.json`. A component missing from the machine fails the run
(the data plane's fixture), never skips it.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.run import machine
from deploy.cluster.layout import ROOT
from tests.chaos.checker import Checker
from tests.chaos.cluster import LagProbe
from tests.chaos.cluster_mode import (
    CLUSTER_FAULTS,
    ClusterSystem,
    inject_cluster,
    now_stamp,
    reduced_kinds,
    trial_record,
)
from tests.chaos.faults import Fault, schedule
from tests.chaos.load import Client, Load, Told
from tests.chaos.runner import FIELDS, Runner, report
from tests.chaos.setup import build_world
from tests.cluster.services import cluster_system  # noqa: F401 - the fixture

pytestmark = pytest.mark.integration

TRIALS_VAR = "HERALD_CLUSTER_CHAOS_TRIALS"
# Comma-separated fault values: only these kinds (to replay one kind of trial).
FAULTS_VAR = "HERALD_CHAOS_FAULTS"
RESULTS = ROOT / ".local" / "chaos"


def plan(seed: int) -> list[Fault]:
    trials = os.environ.get(TRIALS_VAR)
    rng = random.Random(seed)
    wanted = os.environ.get(FAULTS_VAR)
    if wanted:
        kinds = tuple(Fault(w.strip()) for w in wanted.split(","))
        return schedule(kinds, int(trials or len(kinds)), rng)
    if trials:
        return schedule(CLUSTER_FAULTS, int(trials), rng)
    return list(reduced_kinds(rng))


def results(runner: Runner, system: ClusterSystem, wall_s: float) -> dict[str, Any]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    records = [trial_record(t) for t in runner.trials]
    for record in records:
        by_kind[record["fault"]].append(record)

    def worst(rows: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in rows]
        return None if None in values or not values else max(values)

    told = runner.load.told
    return {
        # The commit only for a clean tree, as in benchmark reports: a result file quoted in
        # a note must name the exact code it measured.
        "machine": machine(),
        "seed": runner.seed,
        "port_base": system.layout.base,
        "wall_s": round(wall_s, 1),
        "fan_out_pause_s": system.pause_s,
        "trials": records,
        "per_fault": {
            kind: {
                "trials": len(rows),
                "publishing_works_again_max_s": worst(rows, "publishing_works_again_s"),
                "lag_drained_max_s": worst(rows, "lag_drained_s"),
            }
            for kind, rows in sorted(by_kind.items())
        },
        "totals": runner.totals(),
        "posts_acknowledged": len(told.posts),
        "requests": told.requests,
        "retried": told.retries,
        "retried_for": told.retried_for,
        "gave_up": told.gave_up,
    }


def write_results(data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"cluster-{now_stamp()}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


async def test_cluster_faults_under_load(cluster_system: ClusterSystem) -> None:  # noqa: F811
    system = cluster_system
    seed = int(os.environ.get("HERALD_CHAOS_SEED") or time.time_ns() % 1_000_000)
    faults = plan(seed)
    print(f"\ncluster chaos: seed {seed}, {len(faults)} trials on port base {system.layout.base}")

    told = Told()
    publisher, feed = system.front("publisher"), system.front("feed")
    database_url = system.layout.database_url
    world, expired_channel, expired_posts = await build_world(publisher, feed, database_url, told)
    client = Client(publisher, feed, told)
    probe = LagProbe(system.names)
    checker = Checker(feed, database_url, told, world, expired_channel, expired_posts)
    runner = Runner(
        system,
        probe,
        Load(client, world, seed),
        checker,
        seed,
        injector=inject_cluster,
        drained_when_caught_up=True,
    )
    started = time.monotonic()
    try:
        await runner.run(faults)
    finally:
        await client.close()
        await probe.close()
        print(report(runner), flush=True)
        path = write_results(results(runner, system, time.monotonic() - started))
        print(f"results: {path.relative_to(ROOT)}", flush=True)

    assert told.posts, "the load published nothing"
    assert len(runner.trials) == len(faults)
    assert runner.totals() == dict.fromkeys([*FIELDS, "stalled", "unproven"], 0), report(runner)
    never = [t.fault.value for t in runner.trials if t.recovery_s is None]
    assert not never, f"fan-out lag never drained after: {never}"
    stuck = [t.fault.value for t in runner.trials if t.publish_s is None]
    assert not stuck, f"publishing never worked again after: {stuck}"
