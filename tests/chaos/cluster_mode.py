"""Chaos in cluster mode: the system under test and its faults.

The system is a whole cluster (`deploy.cluster`): three brokers, two Patroni nodes behind
HAProxy, two processes of every service. Clients reach publisher and feed through
HAProxy's fronts, so losing one process of a pair must not stop them. The faults:

- kill -9 the broker leading most partitions of the posts topic; its partitions get new
  leaders; it is started again later and the trial waits until it is back in sync;
- kill -9 the Patroni primary (agent and postmaster); the standby is promoted, the old
  node rejoins as a replica. The post acknowledged just before the kill must be on the
  new primary (read there directly, not through HAProxy);
- kill -9 one process of a service pair (a random one of the two) and start it again;
  for an HTTP service the front must answer while it is dead;
- SIGSTOP one fan-out for `pause_s` (20 s in the full run), then SIGCONT.

The evidence each fault must leave is in `tests.chaos.faults.REQUIRED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from deploy.cluster.dataplane import DataPlane
from deploy.cluster.layout import HTTP_FRONTS, REPLICAS, ClusterLayout
from deploy.cluster.services import MEMBERS, ClusterServices, Member, front_url, member
from tests.chaos.cluster import LagProbe
from tests.chaos.faults import (
    FELT_BY,
    Fault,
    Proof,
    Shown,
    failed_requests,
    hold_until_lag,
    seen_stopped,
)
from tests.chaos.load import Post, PublishTiming, Told
from tests.chaos.runner import Trial
from tests.support.stack import StackSlice

KILL_ONE = {
    Fault.KILL_A_PUBLISHER: "publisher",
    Fault.KILL_A_FANOUT: "fanout",
    Fault.KILL_A_FEED: "feed",
    Fault.KILL_A_RETENTION: "retention",
    Fault.KILL_A_PUSH: "push",
    Fault.KILL_A_WEB: "web",
}
CLUSTER_FAULTS = (Fault.KILL_KAFKA_LEADER, Fault.KILL_PG_PRIMARY, *KILL_ONE, Fault.PAUSE_A_FANOUT)
POSTS_TOPIC = "herald.posts.v1"
# Bounds of the waits inside a fault; past them the trial lacks its proof and fails.
LEADER_MOVE_S = 60.0
PG_FAILOVER_S = 90.0
IN_SYNC_S = 120.0
KEPT_S = 120.0
FRESH_ACK_S = 20.0
# A killed broker or service stays down this long (seconds, drawn per trial).
DOWN_S = (2.0, 6.0)


def reduced_kinds(rng: random.Random) -> tuple[Fault, ...]:
    """One fault of each kind for `make test`: broker leader, primary, one service
    process (which one drawn from the seed), fan-out pause."""
    return (
        Fault.KILL_KAFKA_LEADER,
        Fault.KILL_PG_PRIMARY,
        rng.choice(list(KILL_ONE)),
        Fault.PAUSE_A_FANOUT,
    )


@dataclass
class ClusterSystem:
    """A running cluster as the chaos runner sees it (`tests.chaos.runner.System`)."""

    layout: ClusterLayout
    plane: DataPlane
    services: ClusterServices
    # Topic and group names of the services' namespace, for the lag probe.
    names: StackSlice
    pause_s: float = 20.0

    @property
    def procs(self) -> dict[str, Member]:
        return {p.name: p for p in MEMBERS}

    def front(self, service: str) -> str:
        return front_url(self.layout, service)

    async def restart(self, name: str) -> None:
        """Start process `name` afresh (killed first if it runs); wait until ready."""
        process = member(name)
        await asyncio.to_thread(self._restart, process)

    def _restart(self, process: Member) -> None:
        if self.services.pid(process) is not None:
            with contextlib.suppress(ProcessLookupError):
                self.services.signal(process, signal.SIGCONT)
            self.services.kill(process)
        self.services.spawn(process)
        self.services.wait_ready((process,))

    @property
    def posts_topic(self) -> str:
        return self.names.topic(POSTS_TOPIC)


async def inject_cluster(
    fault: Fault,
    system: ClusterSystem,
    probe: LagProbe,
    told: Told,
    rng: random.Random,
    publishes: PublishTiming,
) -> Proof:
    """Inject `fault` into the cluster and return once it is over (node or process back
    and in sync), with its evidence. Has `tests.chaos.runner.Injector`'s signature."""
    proof = Proof(fault, failed_before=failed_requests(told, FELT_BY.get(fault)))
    if fault is Fault.KILL_KAFKA_LEADER:
        await kill_kafka_leader(system, proof, rng)
    elif fault is Fault.KILL_PG_PRIMARY:
        await kill_pg_primary(system, proof, told, publishes)
    elif fault in KILL_ONE:
        await kill_one(system, KILL_ONE[fault], proof, rng, publishes)
    elif fault is Fault.PAUSE_A_FANOUT:
        await pause_one_fanout(system, probe, proof, rng)
    else:
        raise ValueError(f"not a cluster fault: {fault}")
    return proof


# --- Kafka ------------------------------------------------------------------------------


async def leaders(system: ClusterSystem) -> dict[int, int]:
    with contextlib.suppress(Exception):
        return await system.plane.partition_leaders(system.posts_topic)
    return {}


async def kill_kafka_leader(system: ClusterSystem, proof: Proof, rng: random.Random) -> None:
    before = await leaders(system)
    if not before:
        raise RuntimeError(f"no partition leaders known for {system.posts_topic}")
    target, led = Counter(before.values()).most_common(1)[0]
    moved = [p for p, b in before.items() if b == target]
    proof.struck = time.monotonic()
    killed_pid = await asyncio.to_thread(system.plane.kill_broker, target)
    started = time.monotonic()
    after: dict[int, int] = {}
    while time.monotonic() - started < LEADER_MOVE_S:
        after = await leaders(system)
        if after and all(after.get(p, -1) not in (-1, target) for p in moved):
            proof.shown.add(Shown.LEADER)
            break
        await asyncio.sleep(0.25)
    new = sorted({after.get(p, -1) for p in moved})
    proof.notes.append(
        f"broker {target} led {led}/{len(before)} partitions; now led by {new} "
        f"after {time.monotonic() - started:.1f}s"
    )
    await asyncio.sleep(rng.uniform(*DOWN_S))
    await asyncio.to_thread(system.plane.start_broker, target)
    new_pid = system.plane.broker_pid(target)
    proof.notes.append(f"broker pid {killed_pid}→{new_pid}")
    if new_pid is not None and new_pid != killed_pid:
        proof.shown.add(Shown.RESTART)
    # The next fault must not meet a partition with one replica in sync (min.insync 2).
    synced = await wait_in_sync(system, target)
    proof.notes.append(f"back in sync after {synced:.1f}s" if synced else "not back in sync")


async def wait_in_sync(system: ClusterSystem, broker: int) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < IN_SYNC_S:
        with contextlib.suppress(Exception):
            isr = await system.plane.in_sync_replicas(system.posts_topic)
            if isr and all(broker in members for members in isr.values()):
                return time.monotonic() - started
        await asyncio.sleep(0.5)
    return None


# --- Postgres ---------------------------------------------------------------------------


async def fresh_ack(told: Told, publishes: PublishTiming) -> Post | None:
    """The next post acknowledged from now on (None if none comes within FRESH_ACK_S)."""
    since = time.monotonic()
    seen = len(publishes.acks)
    while time.monotonic() - since < FRESH_ACK_S:
        if len(publishes.acks) > seen:
            return list(told.posts.values())[-1]
        await asyncio.sleep(0.01)
    return None


async def on_node(layout: ClusterLayout, node: str, post: Post) -> tuple[bool, str]:
    """Whether node `node`'s own Postgres holds `post` (a `posts` row: fan-out published
    it there), and how its followers' feeds get it: feed rows written, or merged at read
    time (a channel above the write threshold)."""
    url = f"postgresql://herald@127.0.0.1:{layout.pg_port(node)}/herald"
    conn = await asyncpg.connect(url, timeout=5)
    try:
        fanned_out = await conn.fetchval(
            "SELECT fanned_out FROM posts WHERE post_id = $1", post.post_id
        )
        rows = await conn.fetchval(
            "SELECT count(*) FROM feed_items WHERE post_id = $1", post.post_id
        )
    finally:
        await conn.close()
    if fanned_out is None:
        return False, "not published"
    return True, f"{rows} feed rows" if fanned_out else "merged into feeds at read time"


async def kill_pg_primary(
    system: ClusterSystem, proof: Proof, told: Told, publishes: PublishTiming
) -> None:
    plane = system.plane
    last = await fresh_ack(told, publishes)
    proof.struck = time.monotonic()
    node, postmaster, agent = await asyncio.to_thread(plane.kill_pg_primary)
    killed_at = time.monotonic()
    new = await asyncio.to_thread(plane.wait_pg_leader, PG_FAILOVER_S, node)
    proof.notes.append(
        f"primary {node} (postgres {postmaster}, patroni {agent}) → {new} "
        f"in {time.monotonic() - killed_at:.1f}s"
    )
    if new != node:
        proof.shown.add(Shown.LEADER)
    await asyncio.to_thread(plane.start_pg_node, node)
    rejoined = plane.status().pg[node]
    proof.notes.append(f"{node} rejoined as {rejoined.role}, postgres {rejoined.postmaster_pid}")
    if rejoined.postmaster_pid not in (None, postmaster) and rejoined.role != "leader":
        proof.shown.add(Shown.RESTART)
    if last is None:
        proof.notes.append("no post acknowledged before the kill")
        return
    deadline = time.monotonic() + KEPT_S
    while True:
        kept, how = False, "not reachable"
        with contextlib.suppress(OSError, asyncpg.PostgresError, TimeoutError):
            kept, how = await on_node(system.layout, new, last)
        if kept or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    proof.notes.append(
        f"post acknowledged before the kill {'on' if kept else 'NOT on'} {new} ({how})"
    )
    if kept:
        proof.shown.add(Shown.KEPT)


# --- service processes ------------------------------------------------------------------


async def front_answers(system: ClusterSystem, service: str) -> int | None:
    """Status of `GET /readyz` through the service's HAProxy front (None: no answer)."""
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            return (await client.get(f"{system.front(service)}/readyz")).status_code
        except httpx.HTTPError:
            return None


async def kill_one(
    system: ClusterSystem,
    service: str,
    proof: Proof,
    rng: random.Random,
    publishes: PublishTiming,
) -> None:
    """A publisher dies at a random point inside a publish request (whose client must
    then get its answer from the other one, or retry there with its Idempotency-Key)."""
    process = Member(service, rng.choice(REPLICAS))
    if service == "publisher":
        publishes.started.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(publishes.started.wait(), timeout=5)
        await asyncio.sleep(rng.uniform(0.0, publishes.latency_s))
    proof.struck = time.monotonic()
    before = await asyncio.to_thread(system.services.kill, process)
    if service in HTTP_FRONTS:
        status = await front_answers(system, service)
        proof.notes.append(f"{service} front answered {status} with {process.name} dead")
        if status == 200:
            proof.shown.add(Shown.SERVED)
    await asyncio.sleep(rng.uniform(*DOWN_S))
    await system.restart(process.name)
    after = system.services.pid(process)
    proof.notes.append(f"{process.name} pid {before}→{after}")
    if after is not None and after != before:
        proof.shown.add(Shown.RESTART)


async def pause_one_fanout(
    system: ClusterSystem, probe: LagProbe, proof: Proof, rng: random.Random
) -> None:
    process = Member("fanout", rng.choice(REPLICAS))
    pid = system.services.signal(process, signal.SIGSTOP)
    try:
        if await seen_stopped(pid):
            proof.shown.add(Shown.STOPPED)
            proof.notes.append(f"{process.name} pid {pid} stopped for {system.pause_s:.0f}s")
        await hold_until_lag(probe, system.pause_s, proof)
    finally:
        system.services.signal(process, signal.SIGCONT)


# --- report -----------------------------------------------------------------------------


def trial_record(trial: Trial) -> dict[str, Any]:
    """One trial of `tests.chaos.runner.Runner` as JSON."""
    missing = trial.proof.missing()
    return {
        "n": trial.n,
        "fault": trial.fault.value,
        "at_s": round(trial.at_s, 2),
        "publishing_works_again_s": _round(trial.publish_s),
        "lag_drained_s": _round(trial.recovery_s),
        "acked_so_far": trial.acked,
        **trial.new,
        "proven": not missing,
        "missing_proof": [s.value for s in missing],
        "evidence": trial.proof.notes,
        "services_restarted": trial.reset,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
