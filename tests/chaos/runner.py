"""The trial loop and its report.

A trial: load starts; after a random delay one fault is injected; recovery is the time
from injection until the fault is over and fan-out's consumer lag is back at zero (load
still running); then the load stops, the system drains, and the history checker runs
(re-checking for a bounded while: counters are eventually consistent). Problems are
attributed to the first trial whose check shows them. A trial in which no post was
acknowledged at all counts as `stalled` (a service never came back); one whose fault left
no proof of having happened (see `tests.chaos.faults.Proof`; the clients' failures are
counted from injection until the lag is back at zero) counts as `unproven`. After a trial
with problems every service is restarted, so one stuck service does not fail every later
trial. Each trial also records how long publishing took to work again (the first
acknowledgement of a publish begun after the injection).

The system under test is `tests.chaos.cluster.Cluster` (one process per service on the
local stack) or `tests.chaos.cluster_mode.ClusterSystem` (cluster mode), each with its own
injector.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.chaos.checker import Checker, Findings
from tests.chaos.cluster import LagProbe
from tests.chaos.faults import Fault, Proof, inject
from tests.chaos.load import UNKNOWN, Load, PublishTiming, Told

RECOVERY_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 30.0
# A trial's lag may drain before a publish begun after the fault is answered (a killed
# single publisher restarting): the trial waits this long more for one.
PUBLISH_WAIT_S = 30.0
FIELDS = ("lost", "duplicated", "wrong_counts", "seq_errors", "unexpected", "expired")


@dataclass
class Trial:
    n: int
    fault: Fault
    at_s: float
    recovery_s: float | None
    acked: int
    proof: Proof
    new: dict[str, int] = field(default_factory=dict)
    # Services were restarted after this trial's failed check, so the next starts clean.
    reset: bool = False
    # Seconds from injection until a publish begun after it was acknowledged.
    publish_s: float | None = None


class System(Protocol):
    """What the runner needs of the system under chaos: its processes by name, and a way
    to start one afresh."""

    @property
    def procs(self) -> Mapping[str, object]: ...

    async def restart(self, name: str) -> None: ...


Injector = Callable[[Fault, Any, LagProbe, Told, random.Random, PublishTiming], Awaitable[Proof]]


async def lag_zero(
    probe: LagProbe, since: float, timeout_s: float, caught_up: bool = False
) -> float | None:
    """Seconds from `since` until the fan-out groups' lag reads zero, or with `caught_up`
    until they have committed all the log held at the probe before (None: never)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await probe.lag() == 0 or (caught_up and probe.caught_up):
            return time.monotonic() - since
        await asyncio.sleep(0.25)
    return None


async def publishing_again(publishes: PublishTiming, since: float) -> float | None:
    """Seconds from `since` until a publish begun after it was acknowledged, waiting (the
    load still running) up to PUBLISH_WAIT_S for one (None: none was)."""
    deadline = time.monotonic() + PUBLISH_WAIT_S
    while True:
        again = publishes.works_again(since)
        if again is not None or time.monotonic() > deadline:
            return again
        await asyncio.sleep(0.25)


async def settle(checker: Checker, probe: LagProbe) -> Findings:
    await lag_zero(probe, time.monotonic(), SETTLE_TIMEOUT_S)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        found = await checker.check()
        if found.problems() == 0 or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


@dataclass
class Runner:
    cluster: System
    probe: LagProbe
    load: Load
    checker: Checker
    seed: int
    trials: list[Trial] = field(default_factory=list)
    seen: Findings = field(default_factory=Findings)
    last: Findings = field(default_factory=Findings)
    stalled: set[int] = field(default_factory=set)
    unproven: set[int] = field(default_factory=set)
    injector: Injector = inject
    # Recovery ends once fan-out has caught up with the log (see `lag_zero`) rather than at
    # a zero reading: with three replicas per commit, records in flight keep the lag of a
    # busy cluster above zero at most instants, though fan-out is not behind.
    drained_when_caught_up: bool = False

    async def run(self, faults: list[Fault]) -> None:
        rng = random.Random(self.seed)
        for n, fault in enumerate(faults, 1):
            self.load.publishes.acks.clear()
            self.load.start()
            at = rng.uniform(0.5, 3.0)
            await asyncio.sleep(at)
            injected = time.monotonic()
            proof = await self.injector(
                fault, self.cluster, self.probe, self.load.told, rng, self.load.publishes
            )
            injected = proof.struck or injected
            recovery = await lag_zero(
                self.probe, injected, RECOVERY_TIMEOUT_S, self.drained_when_caught_up
            )
            if recovery is None:
                last = self.probe.last
                why = (
                    f"lag {last}: {', '.join(self.probe.where[:4])}"
                    if last is not None
                    else f"probe failed: {self.probe.last_error}"
                )
                proof.notes.append(f"lag not drained ({why})")
            proof.window_closed(self.load.told)
            await asyncio.sleep(1.0)
            publish_s = await publishing_again(self.load.publishes, injected)
            await self.load.stop()
            found = await settle(self.checker, self.probe)
            self.last = found
            new = {}
            for name in FIELDS:
                fresh = getattr(found, name) - getattr(self.seen, name)
                getattr(self.seen, name).update(fresh)
                new[name] = len(fresh)
            acked = len(self.load.told.posts)
            if acked == (self.trials[-1].acked if self.trials else 0):
                # Nothing acknowledged through a whole trial: a service stayed down.
                self.stalled.add(n)
                new["stalled"] = 1
            else:
                new["stalled"] = 0
            new["unproven"] = 1 if proof.missing() else 0
            if proof.missing():
                self.unproven.add(n)
            trial = Trial(n, fault, at, recovery, acked, proof, new, publish_s=publish_s)
            self.trials.append(trial)
            if any(new.values()):
                # A service left in a broken state would fail every later trial too.
                await asyncio.gather(*(self.cluster.restart(s) for s in self.cluster.procs))
                trial.reset = True
            print(row(trial), flush=True)

    def totals(self) -> dict[str, int]:
        totals = {name: len(getattr(self.seen, name)) for name in FIELDS}
        totals["stalled"] = len(self.stalled)
        totals["unproven"] = len(self.unproven)
        return totals


HEADER = (
    f"{'#':>3} {'fault':<17} {'at s':>5} {'pub s':>6} {'recov s':>8} {'acked':>6} "
    f"{'lost':>5} {'dup':>4} {'counts':>6} {'seq':>4} {'unexp':>5} {'expired':>7} {'stalled':>7}"
    f"  proof"
)


def proof_text(proof: Proof) -> str:
    missing = proof.missing()
    verdict = "NOT PROVEN (no " + ", ".join(missing) + ")" if missing else "ok"
    return f"{verdict}: {'; '.join(proof.notes)}"


def row(t: Trial) -> str:
    rec = f"{t.recovery_s:.1f}" if t.recovery_s is not None else "never"
    pub = f"{t.publish_s:.1f}" if t.publish_s is not None else "never"
    n = t.new
    return (
        f"{t.n:>3} {t.fault.value:<17} {t.at_s:>5.1f} {pub:>6} {rec:>8} {t.acked:>6} "
        f"{n['lost']:>5} {n['duplicated']:>4} {n['wrong_counts']:>6} {n['seq_errors']:>4} "
        f"{n['unexpected']:>5} {n['expired']:>7} {n['stalled']:>7}  {proof_text(t.proof)}"
        + ("  (services restarted)" if t.reset else "")
    )


def worst(values: list[float | None]) -> str:
    done = [v for v in values if v is not None]
    return "never" if len(done) < len(values) else f"{max(done):.1f}"


def kind_summary(trials: list[Trial]) -> str:
    """Mean and worst recovery, worst time until publishing worked, of one fault kind."""
    done = [t.recovery_s for t in trials if t.recovery_s is not None]
    mean = f"{sum(done) / len(done):.1f}" if done else "-"
    recovery = worst([t.recovery_s for t in trials])
    publish = worst([t.publish_s for t in trials])
    return f"{mean:>16} {recovery:>6} {publish:>14}"


def follow_states(told: Told) -> str:
    unknown = sum(1 for v in told.follows.values() if v is UNKNOWN)
    unfollowed = sum(1 for v in told.follows.values() if v is None)
    return f"{unfollowed} unfollowed, {unknown} without a definite answer"


def report(runner: Runner) -> str:
    told = runner.load.told
    lines = ["", "chaos trials", HEADER, *(row(t) for t in runner.trials), ""]
    by_kind: dict[Fault, list[Trial]] = defaultdict(list)
    for t in runner.trials:
        by_kind[t.fault].append(t)
    lines.append(
        f"{'fault':<17} {'trials':>6} {'recovery mean s':>16} {'max s':>6} {'publish max s':>14}"
    )
    for fault, trials in sorted(by_kind.items(), key=lambda kv: kv[0].value):
        lines.append(f"{fault.value:<17} {len(trials):>6} {kind_summary(trials)}")
    totals = runner.totals()
    lines += [
        "",
        f"seed {runner.seed}: trials {len(runner.trials)}, posts acknowledged {len(told.posts)}, "
        f"requests {told.requests} (retried {told.retries}: {told.retried_for}; "
        f"given up {told.gave_up})",
        f"follows told: {len(told.follows)} pairs, {follow_states(told)}",
        "totals: " + ", ".join(f"{k} {v}" for k, v in totals.items()),
        *(
            f"  {name}: {sorted(getattr(runner.seen, name))[:6]}"
            for name in FIELDS
            if getattr(runner.seen, name)
        ),
        *(f"  {line}" for line in runner.last.details[:8]),
        f"(informational) posts that landed without an acknowledgement: "
        f"{len(runner.last.unacked_landed)}",
    ]
    return "\n".join(lines)
