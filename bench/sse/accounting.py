"""Every stream accounted for: what one broadcast round delivered, and the verdicts.

A round is one event broadcast to `expected` streams. Each stream either received the
event within the deadline (a latency sample), received it after the deadline (late), or
never did — its connection dropped, it was never opened, or the event did not come
(lost). Late and lost streams are failures counted against every target of the size,
not samples left out of the percentiles.

Pure functions only: the benchmark feeds them the arrival times its clients saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.harness import Check, Op, Result, latency_summary, percentile, ratio_value


@dataclass(frozen=True)
class Round:
    """One broadcast: on-time delays (seconds, sorted), late and lost streams."""

    expected: int
    delays: list[float]
    late: int
    lost: int

    @property
    def failures(self) -> int:
        return self.late + self.lost

    @property
    def delivered(self) -> int:
        return len(self.delays)

    def figure(self, p: float) -> float:
        """Percentile `p` of the on-time delays in ms (100 = the slowest), NaN if none."""
        return percentile(self.delays, p) * 1000


def tally(
    sent_at: float, arrivals: Sequence[float | None], expected: int, deadline_s: float
) -> Round:
    """The round of an event sent at `sent_at` (monotonic seconds) whose arrival times on
    the open streams are `arrivals` (None: not received). `expected` is every stream
    that should have been there, opened or not: those missing from `arrivals` are lost."""
    delays = [max(0.0, at - sent_at) for at in arrivals if at is not None]
    on_time = sorted(d for d in delays if d <= deadline_s)
    late = len(delays) - len(on_time)
    lost = max(0, expected - len(delays))
    return Round(expected=expected, delays=on_time, late=late, lost=lost)


@dataclass
class SizeRun:
    """One side (Herald or the bare broadcaster) measured at one stream count."""

    label: str
    streams: int  # wanted
    opened: int
    open_s: float
    kib_per_stream: float
    rounds: list[Round]
    warmup: Round | None = None  # not in the figures, but its failures count
    baseline: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        """(stream, event) pairs that failed, warm-up included; a stream that never
        opened fails every round."""
        warm = self.warmup.failures if self.warmup is not None else 0
        return warm + sum(r.failures for r in self.rounds)

    @property
    def worst_p99_ms(self) -> float:
        """The slowest round's p99: each publish must meet the target, not their mix."""
        values = [r.figure(99) for r in self.rounds]
        return max(values) if values and all(math.isfinite(v) for v in values) else math.nan

    @property
    def delivered_every_round(self) -> int:
        """Streams the fewest-delivering round reached in time (every round counts)."""
        return min((r.delivered for r in self.rounds), default=0)


PATH = "SSE: publish → every stream"


def result(run: SizeRun, workers: int) -> Result:
    """The Result of one side at one size: pooled percentiles, each round's p50/p99/max,
    open time, memory per stream, and every failed stream as an error."""
    values: dict[str, float] = {
        "streams_opened": run.opened,
        "delivered_every_round": run.delivered_every_round,
        "open_s": run.open_s,
        "KiB_per_stream": run.kib_per_stream,
        "worst_round_p99": run.worst_p99_ms,
    }
    for i, r in enumerate(run.rounds, 1):
        values[f"r{i}_p50"] = r.figure(50)
        values[f"r{i}_p99"] = r.figure(99)
        values[f"r{i}_max"] = r.figure(100)
    values["late"] = sum(r.late for r in run.rounds)
    values["lost"] = sum(r.lost for r in run.rounds)
    values.update(run.extra)
    pooled = [d for r in run.rounds for d in r.delays]
    return Result(
        bench="",
        path=PATH,
        label=run.label,
        baseline=run.baseline,
        rate=run.opened / run.open_s if run.open_s > 0 else None,
        unit="streams opened/s",
        latency_ms=latency_summary(pooled),
        values=values,
        x=float(run.streams),
        x_label="streams",
        samples=len(pooled),
        errors=run.failures,
        params={"rounds": len(run.rounds), "workers": workers, "plot": "p99"},
    )


COMPARED = ("worst_round_p99", "p50", "KiB_per_stream", "open_s")


def compare(herald: Result, bare: Result) -> None:
    """Herald's cost over the bare broadcast, as `<figure>_over_bare` values of Herald's
    Result (NaN when either side has no valid figure, e.g. nothing delivered)."""
    for metric in COMPARED:
        herald.values[f"{metric}_over_bare"] = ratio_value(
            _figure(herald, metric), _figure(bare, metric)
        )


def verdicts(herald: Result, bare: Result | None, quick: bool) -> list[Check]:
    """The targets (DESIGN.md) that apply to Herald's Result at its stream count:
    every size: every stream received every round's event in time; 100: p50 ≤ 60 ms;
    10,000 on one process: worst round's p99 ≤ 350 ms, ≤ 15 KiB per stream, opened in
    ≤ 10 s. Each check carries the bare broadcaster's figure of the same run as its
    baseline (the value judged is Herald's own)."""
    n = int(herald.x or 0)
    note = ""
    if bare is not None:
        note = f"bare broadcaster: {bare.errors} failed"
    failed = herald.errors
    unopened = n - int(herald.values.get("streams_opened", 0))

    def check(metric: str, op: Op, target: float, unit: str, losses: int, why: str) -> Check:
        value = _figure(herald, metric)
        return Check(
            bench=herald.bench,
            path=herald.path,
            what=f"{herald.label}, {n:,} streams, {metric}",
            value=value,
            op=op,
            target=target,
            unit=unit,
            subject=value,
            baseline=_figure(bare, metric) if bare is not None else None,
            note="; ".join(filter(None, (why, note))),
            losses=max(0, losses),
        )

    checks = [check("delivered_every_round", ">=", n, "streams", failed, "")]
    if n == 100:
        checks.append(check("p50", "<=", 60, "ms", failed, "median over every round"))
    if n == 10_000 and herald.params.get("workers", 1) == 1 and not quick:
        checks.append(check("worst_round_p99", "<=", 350, "ms", failed, "the slowest round"))
        # A lost event says nothing about the memory or the opening of a stream; a stream
        # that never opened does.
        memory = "RSS growth over the last nine tenths opened"
        checks.append(check("KiB_per_stream", "<=", 15, "KiB", unopened, memory))
        checks.append(check("open_s", "<=", 10, "s", unopened, "every stream opened"))
    return checks


def _figure(result: Result, metric: str) -> float:
    try:
        return result.figure(metric)
    except KeyError:
        return math.nan


def not_measured(label: str, streams: int, why: str) -> Check:
    """A size that could not be measured: an invalid check (it fails the run), saying why."""
    return Check(
        bench="",
        path=PATH,
        what=f"{label}, {streams:,} streams, delivered_every_round",
        value=math.nan,
        op=">=",
        target=streams,
        unit="streams",
        note=f"not measured: {why}",
    )
