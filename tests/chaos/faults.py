"""Fault injectors. Each returns once the fault is over (the process restarted or
resumed, the server back), with the evidence that it happened; recovery is measured by
the caller from the moment of injection.

A fault that cannot be proven fails its trial (see `Proof`): a kill or restart must
leave a new process (a new pid; for Postgres a new postmaster start time), a pause must
be seen stopping the process, a fault clients feel must show failed or retried requests in
its window, and a fault of fan-out must leave it lag to recover (it is held until the
probe has seen some).

Service faults touch only the chaos suite's own processes. Server faults restart the
shared local Kafka or Postgres (through deploy.local.stack), which every other user of
the stack feels: they run only when HERALD_CHAOS_RESTART_SERVERS=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import asyncpg
import psutil

from deploy.local import stack as local_stack
from tests.chaos.cluster import Cluster, LagProbe
from tests.chaos.load import PublishTiming, Told

RESTART_SERVERS_VAR = "HERALD_CHAOS_RESTART_SERVERS"


class Fault(StrEnum):
    KILL_PUBLISHER = "kill publisher"
    KILL_FANOUT = "kill fanout"
    KILL_FEED = "kill feed"
    KILL_RETENTION = "kill retention"
    PAUSE_FANOUT = "pause fanout"
    RESTART_KAFKA = "restart kafka"
    RESTART_POSTGRES = "restart postgres"
    # Cluster mode (tests.chaos.cluster_mode): a data-plane node, or one process of a pair.
    KILL_KAFKA_LEADER = "kill kafka leader"
    KILL_PG_PRIMARY = "kill pg primary"
    KILL_A_PUBLISHER = "kill a publisher"
    KILL_A_FANOUT = "kill a fanout"
    KILL_A_FEED = "kill a feed"
    KILL_A_RETENTION = "kill a retention"
    KILL_A_PUSH = "kill a push"
    KILL_A_WEB = "kill a web"
    PAUSE_A_FANOUT = "pause a fanout"


SERVICE_FAULTS = (
    Fault.KILL_PUBLISHER,
    Fault.KILL_FANOUT,
    Fault.KILL_FEED,
    Fault.KILL_RETENTION,
    Fault.PAUSE_FANOUT,
)
SERVER_FAULTS = (Fault.RESTART_KAFKA, Fault.RESTART_POSTGRES)
KILLED = {
    Fault.KILL_PUBLISHER: "publisher",
    Fault.KILL_FANOUT: "fanout",
    Fault.KILL_FEED: "feed",
    Fault.KILL_RETENTION: "retention",
}
# Longer than the consumers' session timeout at the top end, so some pauses cost the
# paused member its place in the group and it must rejoin on SIGCONT.
PAUSE_S = (1.0, 12.0)
# A fan-out fault is held at most this long waiting for the probe to see lag (the load
# publishes several posts a second, so it shows within one or two probes).
LAG_WITNESS_S = 20.0


class Shown(StrEnum):
    """What a trial must show for its fault to count as having happened."""

    RESTART = "restart"  # new pid (broker, service) or postmaster start time
    STOPPED = "stopped"  # the paused process seen in the stopped state
    FAILURES = "failures"  # clients saw failed or retried requests in the fault window
    LAG = "lag"  # fan-out had records to catch up on
    LEADER = "new leader"  # another broker leads the partitions, another node is primary
    SERVED = "served"  # HAProxy's front answered while one process of its pair was dead
    # The post acknowledged just before the primary's death is on the new primary.
    KEPT = "kept"


REQUIRED: dict[Fault, tuple[Shown, ...]] = {
    Fault.KILL_PUBLISHER: (Shown.RESTART, Shown.FAILURES),
    Fault.KILL_FEED: (Shown.RESTART, Shown.FAILURES),
    Fault.KILL_FANOUT: (Shown.RESTART, Shown.LAG),
    # No client talks to retention: its new pid is the whole proof.
    Fault.KILL_RETENTION: (Shown.RESTART,),
    Fault.PAUSE_FANOUT: (Shown.STOPPED, Shown.LAG),
    Fault.RESTART_KAFKA: (Shown.RESTART, Shown.FAILURES),
    Fault.RESTART_POSTGRES: (Shown.RESTART, Shown.FAILURES),
    # Producers and HAProxy hide these from clients when all goes well: failed requests
    # are noted, never required.
    Fault.KILL_KAFKA_LEADER: (Shown.LEADER, Shown.RESTART),
    Fault.KILL_PG_PRIMARY: (Shown.LEADER, Shown.KEPT, Shown.RESTART),
    Fault.KILL_A_PUBLISHER: (Shown.RESTART, Shown.SERVED),
    Fault.KILL_A_FANOUT: (Shown.RESTART,),
    Fault.KILL_A_FEED: (Shown.RESTART, Shown.SERVED),
    Fault.KILL_A_RETENTION: (Shown.RESTART,),
    Fault.KILL_A_PUSH: (Shown.RESTART,),
    Fault.KILL_A_WEB: (Shown.RESTART, Shown.SERVED),
    Fault.PAUSE_A_FANOUT: (Shown.STOPPED, Shown.LAG),
}
# Whose failed requests count for a fault (None: any service's).
FELT_BY: dict[Fault, str | None] = {
    Fault.KILL_PUBLISHER: "publisher",
    Fault.KILL_FEED: "feed",
    Fault.RESTART_KAFKA: None,
    Fault.RESTART_POSTGRES: None,
    Fault.KILL_KAFKA_LEADER: None,
    Fault.KILL_PG_PRIMARY: None,
    Fault.KILL_A_PUBLISHER: "publisher",
    Fault.KILL_A_FEED: "feed",
}


@dataclass
class Proof:
    """The evidence of one injected fault. `failed_before` snapshots the clients' failed
    requests at injection; `window_closed` takes the count at the end of the window."""

    fault: Fault
    shown: set[Shown] = field(default_factory=set)
    # e.g. "pid 812→907", "start 10:02:03→10:02:09", "lag 14", "12 failed"
    notes: list[str] = field(default_factory=list)
    failed_before: int = 0
    max_lag: int = 0
    # When the fault struck (monotonic), if the injector waited for a moment first (a
    # fresh acknowledgement): recovery and publishing times count from here.
    struck: float | None = None

    def window_closed(self, told: Told) -> None:
        failed = failed_requests(told, FELT_BY.get(self.fault)) - self.failed_before
        if self.fault in FELT_BY:
            self.notes.append(f"{failed} failed")
            if failed > 0:
                self.shown.add(Shown.FAILURES)

    def missing(self) -> list[Shown]:
        return [s for s in REQUIRED[self.fault] if s not in self.shown]


def failed_requests(told: Told, service: str | None) -> int:
    return told.failures() if service is None else told.failed.get(service, 0)


def servers_enabled() -> bool:
    return os.environ.get(RESTART_SERVERS_VAR) == "1"


def fault_kinds() -> tuple[Fault, ...]:
    """The kinds in play; HERALD_CHAOS_FAULTS (comma-separated values) narrows them."""
    kinds = SERVICE_FAULTS + (SERVER_FAULTS if servers_enabled() else ())
    wanted = os.environ.get("HERALD_CHAOS_FAULTS")
    if wanted:
        chosen = {Fault(w.strip()) for w in wanted.split(",")}
        kinds = tuple(k for k in kinds if k in chosen)
    return kinds


def schedule(kinds: tuple[Fault, ...], trials: int, rng: random.Random) -> list[Fault]:
    """`trials` faults: every kind once per round, each round in a seeded random order."""
    order: list[Fault] = []
    while len(order) < trials:
        round_ = list(kinds)
        rng.shuffle(round_)
        order.extend(round_)
    return order[:trials]


def restart_kafka(proof: Proof) -> None:
    paths = local_stack.KafkaPaths()
    before = local_stack.pid_alive(paths.pid)
    if before is None:
        raise RuntimeError("the local broker has no live pid file: not started by the stack")
    try:
        local_stack.stop_kafka()
        local_stack.start_kafka()
    except SystemExit as exc:  # the stack reports failures as SystemExit (a CLI)
        raise RuntimeError(f"kafka did not restart: {exc}") from None
    after = local_stack.pid_alive(paths.pid)
    proof.notes.append(f"pid {before}→{after}")
    if after is not None and after != before and not local_stack.process_running(before):
        proof.shown.add(Shown.RESTART)


async def postmaster_start(database_url: str) -> datetime:
    db = await asyncpg.connect(database_url)
    try:
        started: datetime = await db.fetchval("SELECT pg_postmaster_start_time()")
        return started
    finally:
        await db.close()


async def restart_postgres(proof: Proof, database_url: str) -> None:
    before = await postmaster_start(database_url)
    try:
        await asyncio.to_thread(local_stack.stop_postgres)
        await asyncio.to_thread(local_stack.start_postgres)
    except SystemExit as exc:
        raise RuntimeError(f"postgres did not restart: {exc}") from None
    after = await postmaster_start(database_url)
    proof.notes.append(f"start {before:%H:%M:%S.%f}→{after:%H:%M:%S.%f}")
    if after > before:
        proof.shown.add(Shown.RESTART)


async def hold_until_lag(probe: LagProbe, hold_s: float, proof: Proof) -> None:
    """Keep a fan-out fault for `hold_s`, and longer (up to LAG_WITNESS_S) until the
    probe has seen fan-out lag: a recovery from nothing would prove nothing."""
    started = time.monotonic()
    while True:
        if proof.max_lag == 0:
            proof.max_lag = await probe.lag() or 0
        elapsed = time.monotonic() - started
        if elapsed >= hold_s and (proof.max_lag > 0 or elapsed >= LAG_WITNESS_S):
            break
        await asyncio.sleep(0.25 if proof.max_lag == 0 else min(0.25, hold_s - elapsed))
    proof.notes.append(f"lag {proof.max_lag}")
    if proof.max_lag > 0:
        proof.shown.add(Shown.LAG)


async def seen_stopped(pid: int, timeout_s: float = 5.0) -> bool:
    """Whether the process enters the stopped state (SIGSTOP is delivered asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_STOPPED:
                return True
        except psutil.NoSuchProcess:
            return False
        await asyncio.sleep(0.05)
    return False


async def inject(
    fault: Fault,
    cluster: Cluster,
    probe: LagProbe,
    told: Told,
    rng: random.Random,
    publishes: PublishTiming,
) -> Proof:
    """The publisher is killed at a random point inside a publish request, where its
    answer can be lost after the broker took the post (the client's retry with the same
    Idempotency-Key must not publish it twice)."""
    proof = Proof(fault, failed_before=failed_requests(told, FELT_BY.get(fault)))
    if fault in KILLED:
        name = KILLED[fault]
        before = cluster.pid(name)
        if fault is Fault.KILL_PUBLISHER:
            publishes.started.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publishes.started.wait(), timeout=5)
            await asyncio.sleep(rng.uniform(0.0, publishes.latency_s))
        proof.struck = time.monotonic()
        cluster.kill(name)
        killed = cluster.returncode(name) == -signal.SIGKILL
        if fault is Fault.KILL_FANOUT:
            await hold_until_lag(probe, rng.uniform(0.0, 1.0), proof)
        else:
            await asyncio.sleep(rng.uniform(0.0, 1.0))
        await cluster.restart(name)
        after = cluster.pid(name)
        proof.notes.append(f"pid {before}→{after}" + ("" if killed else " (not killed)"))
        if killed and after != before:
            proof.shown.add(Shown.RESTART)
    elif fault is Fault.PAUSE_FANOUT:
        cluster.pause("fanout")
        try:
            pid = cluster.pid("fanout")
            if await seen_stopped(pid):
                proof.shown.add(Shown.STOPPED)
                proof.notes.append(f"pid {pid} stopped")
            await hold_until_lag(probe, rng.uniform(*PAUSE_S), proof)
        finally:
            cluster.resume("fanout")
    elif fault is Fault.RESTART_KAFKA:
        await asyncio.to_thread(restart_kafka, proof)
        await cluster.wait_all_ready()
    elif fault is Fault.RESTART_POSTGRES:
        await restart_postgres(proof, cluster.stack.admin_database_url)
        await cluster.wait_all_ready()
    return proof
