"""Fault injectors. Each returns once the fault is over (the process restarted or
resumed, the server back); recovery is measured by the caller from the moment of injection.

Service faults touch only the chaos suite's own processes. Server faults restart the
shared local Kafka or Postgres (through deploy.local.stack), which every other user of
the stack feels: they run only when HERALD_CHAOS_RESTART_SERVERS=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from enum import StrEnum

from deploy.local import stack as local_stack
from tests.chaos.cluster import Cluster
from tests.chaos.load import PublishTiming

RESTART_SERVERS_VAR = "HERALD_CHAOS_RESTART_SERVERS"


class Fault(StrEnum):
    KILL_PUBLISHER = "kill publisher"
    KILL_FANOUT = "kill fanout"
    KILL_FEED = "kill feed"
    KILL_RETENTION = "kill retention"
    PAUSE_FANOUT = "pause fanout"
    RESTART_KAFKA = "restart kafka"
    RESTART_POSTGRES = "restart postgres"


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


def restart_kafka() -> None:
    paths = local_stack.KafkaPaths()
    if local_stack.pid_alive(paths.pid) is None:
        raise RuntimeError("the local broker has no live pid file: not started by the stack")
    local_stack.stop_pid(paths.pid, "kafka")
    try:
        local_stack.start_kafka()
    except SystemExit as exc:  # the stack reports failures as SystemExit (a CLI)
        raise RuntimeError(f"kafka did not come back: {exc}") from None


def restart_postgres() -> None:
    local_stack.stop_postgres()
    try:
        local_stack.start_postgres()
    except SystemExit as exc:
        raise RuntimeError(f"postgres did not come back: {exc}") from None


async def inject(
    fault: Fault, cluster: Cluster, rng: random.Random, publishes: PublishTiming
) -> None:
    """The publisher is killed at a random point inside a publish request, where its
    answer can be lost after the broker took the post (the client's retry with the same
    Idempotency-Key must not publish it twice)."""
    if fault in KILLED:
        name = KILLED[fault]
        if fault is Fault.KILL_PUBLISHER:
            publishes.started.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publishes.started.wait(), timeout=5)
            await asyncio.sleep(rng.uniform(0.0, publishes.latency_s))
        cluster.kill(name)
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        await cluster.restart(name)
    elif fault is Fault.PAUSE_FANOUT:
        cluster.pause("fanout")
        try:
            await asyncio.sleep(rng.uniform(*PAUSE_S))
        finally:
            cluster.resume("fanout")
    elif fault is Fault.RESTART_KAFKA:
        await asyncio.to_thread(restart_kafka)
        await cluster.wait_all_ready()
    elif fault is Fault.RESTART_POSTGRES:
        await asyncio.to_thread(restart_postgres)
        await cluster.wait_all_ready()
