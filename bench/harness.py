"""Shared measuring helpers and the benchmark module convention.

Convention: a benchmark is a module `bench/<name>.py` exposing

    async def benchmark(ctx: Context, quick: bool) -> list[Result | Check]

`bench.run` discovers every such module, gives each a `Context` (an isolated slice of the
local stack on demand, service processes stopped for it afterwards, a time budget) and
collects what it returns. A `Result` is one measured figure set (a subject or its
baseline, or one point of a scaling curve: `x` set); a `Check` compares a figure, usually
a subject/baseline ratio measured in the same run, with its DESIGN.md target.

Every loop here is bounded by time AND by count, so a slow or stuck path costs at most its
budget. Only loopback addresses are ever used.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import operator
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tests.support.processes import ROOT, ServiceProcess
from tests.support.stack import StackSlice, create_test_stack, destroy_test_stack

# The percentiles every latency figure reports.
PERCENTILES = (50.0, 90.0, 99.0)

Op = Literal[">=", "<="]
_OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass
class Result:
    """One measured subject: a path under test, its baseline, or a curve point."""

    bench: str  # module name, filled by the runner when left empty
    path: str  # what is measured: one plot per path ("publish", "fan-out write cost", …)
    label: str  # who: "publisher", "bare endpoint", "INSERT … SELECT", …
    baseline: bool = False
    rate: float | None = None  # operations per second (higher is better)
    unit: str = "req/s"  # unit of `rate`
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50/p90/p99/max
    values: dict[str, float] = field(default_factory=dict)  # any other figures
    x: float | None = None  # set for a point of a scaling curve
    x_label: str = ""
    samples: int = 0
    errors: int = 0  # failed calls, lost or late events: each one fails the path's checks
    params: dict[str, Any] = field(default_factory=dict)

    def figure(self, metric: str) -> float:
        """`rate`, a latency percentile (`p50`…) or a key of `values`."""
        if metric == "rate":
            if self.rate is None:
                raise KeyError(f"{self.label}: no rate")
            return self.rate
        if metric in self.latency_ms:
            return self.latency_ms[metric]
        return self.values[metric]


@dataclass
class Check:
    """A figure against its target: `value op target` (a ratio unless `unit` says else).

    Met only when the measurement is valid and complete: `value` finite (a ratio whose
    baseline or subject was zero, missing or not finite is recorded as NaN: an invalid
    measurement, not an infinitely good one), `losses` zero (a request that failed, an
    event lost or late, counts against the target whatever the percentiles of the
    successful ones say), and `value op target`."""

    bench: str
    path: str
    what: str  # "publisher / bare endpoint, req/s"
    value: float
    op: Op
    target: float
    unit: str = "ratio"
    subject: float | None = None  # the two figures a ratio was computed from
    baseline: float | None = None
    note: str = ""
    losses: int = 0  # failed requests, lost or late events behind the figures

    @property
    def valid(self) -> bool:
        return math.isfinite(self.value)

    @property
    def met(self) -> bool:
        return self.valid and self.losses == 0 and _OPS[self.op](self.value, self.target)

    @property
    def verdict(self) -> str:
        """`met`, or why not: an invalid measurement, losses, or a missed target."""
        if not self.valid:
            return "invalid measurement"
        if self.losses:
            return f"{self.losses:,} lost or failed"
        return "met" if self.met else "missed"


Record = Result | Check


def _figure(result: Result, metric: str) -> float:
    """A figure of `result`, NaN when it has none (no successful sample, say)."""
    try:
        return result.figure(metric)
    except KeyError:
        return math.nan


def ratio_value(subject: float, baseline: float) -> float:
    """subject/baseline, or NaN unless both are finite and positive: a zero baseline is a
    failed measurement (nothing ran, or nothing was counted), never an infinite ratio."""
    valid = all(math.isfinite(v) and v > 0 for v in (subject, baseline))
    return subject / baseline if valid else math.nan


def ratio(
    subject: Result, baseline: Result, metric: str, op: Op, target: float, note: str = ""
) -> Check:
    """subject/baseline of one metric, as a Check against `target`; the errors of both
    sides are its losses."""
    s, b = _figure(subject, metric), _figure(baseline, metric)
    unit = subject.unit if metric == "rate" else ("ms" if metric in subject.latency_ms else "")
    return Check(
        bench=subject.bench,
        path=subject.path,
        what=f"{subject.label} / {baseline.label}, {metric} ({unit})".replace(" ()", ""),
        value=ratio_value(s, b),
        op=op,
        target=target,
        subject=s,
        baseline=b,
        note=note,
        losses=subject.errors + baseline.errors,
    )


def absolute(
    subject: Result, metric: str, op: Op, target: float, unit: str, note: str = ""
) -> Check:
    """One figure against an absolute target (e.g. 10 k followers written in < 100 ms);
    the subject's errors are its losses."""
    return Check(
        bench=subject.bench,
        path=subject.path,
        what=f"{subject.label}, {metric}",
        value=_figure(subject, metric),
        op=op,
        target=target,
        unit=unit,
        note=note,
        losses=subject.errors,
    )


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """p50/p90/p99/max and mean in milliseconds."""
    ordered = sorted(seconds)
    if not ordered:
        return {}
    summary = {f"p{p:g}": percentile(ordered, p) * 1000 for p in PERCENTILES}
    summary["max"] = ordered[-1] * 1000
    summary["mean"] = sum(ordered) / len(ordered) * 1000
    return summary


@dataclass
class Sample:
    """What a timing loop saw: successful calls' latencies, errors, measured seconds."""

    latencies: list[float]
    errors: int
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def result(self, path: str, label: str, **kwargs: Any) -> Result:
        return Result(
            bench="",
            path=path,
            label=label,
            rate=self.rate,
            latency_ms=latency_summary(self.latencies),
            samples=len(self.latencies),
            errors=self.errors,
            **kwargs,
        )


async def wait_listening(port: int, what: str, timeout_s: float = 30.0) -> None:
    """Return once something accepts TCP connections on 127.0.0.1:`port` (a server of the
    benchmark's own, started in another process); TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not start") from None
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return


async def closed_loop(
    call: Callable[[], Awaitable[bool]],
    *,
    concurrency: int,
    duration_s: float,
    warmup_s: float = 1.0,
    max_calls: int = 1_000_000,
) -> Sample:
    """`concurrency` workers call `call` back to back (closed loop) for `warmup_s`, then
    `duration_s` measured, or until `max_calls` measured calls. `call` returns whether it
    succeeded; an exception counts as an error too, so a failing path ends with errors
    in its figures rather than an aborted suite."""
    latencies: list[float] = []
    errors = 0
    measure_from = time.monotonic() + warmup_s
    stop_at = measure_from + duration_s

    async def worker() -> None:
        nonlocal errors
        while (started := time.monotonic()) < stop_at and len(latencies) < max_calls:
            try:
                ok = await call()
            except Exception:
                ok = False
            if started >= measure_from:
                if ok:
                    latencies.append(time.monotonic() - started)
                else:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    measured = min(time.monotonic(), stop_at) - measure_from
    return Sample(latencies, errors, max(measured, 1e-9))


async def timed(
    call: Callable[[], Awaitable[object]],
    *,
    times: int,
    max_s: float,
    warmup: int = 1,
    between: Callable[[], Awaitable[object]] | None = None,
) -> list[float]:
    """Run `call` sequentially up to `times` (after `warmup` unmeasured runs) or until
    `max_s` elapsed, whichever first; the seconds each run took (at least one run).
    `between`, if given, runs untimed after every call (e.g. to reset a table)."""
    for _ in range(warmup):
        await call()
        if between is not None:
            await between()
    took: list[float] = []
    deadline = time.monotonic() + max_s
    while len(took) < times and (not took or time.monotonic() < deadline):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
        if between is not None:
            await between()
    return took


async def interleaved(
    calls: dict[str, Callable[[], Awaitable[object]]],
    *,
    times: int,
    max_s: float,
    warmup: int = 1,
    between: Callable[[], Awaitable[object]] | None = None,
) -> dict[str, list[float]]:
    """Like `timed` for a subject and its baselines at once: rounds of one run of each
    call, the order rotated every round, so a machine that gets busier or quieter during
    the measurement moves every side alike. Up to `times` measured rounds (after `warmup`
    unmeasured ones) or until `max_s` elapsed; the seconds of each call's runs."""
    names = list(calls)
    took: dict[str, list[float]] = {name: [] for name in names}
    deadline = time.monotonic() + max_s
    for round_ in range(warmup + times):
        if round_ > warmup and time.monotonic() >= deadline:
            break
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            await calls[name]()
            seconds = time.perf_counter() - started
            if round_ >= warmup:
                took[name].append(seconds)
            if between is not None:
                await between()
    return took


class ProfiledService(ServiceProcess):
    """A service process run under pyinstrument: its text profile (application frames,
    library frames folded) is written to `profile_path` when it stops cleanly."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, profile_path: Path):
        super().__init__(name, env, log_dir)
        self.profile_path = profile_path

    def spawn(self) -> None:
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pyinstrument",
                "-r",
                "pyisession",
                "-i",
                "0.002",
                "-o",
                str(self.profile_path.with_suffix(".pyisession")),
                "-m",
                f"services.{self.name}",
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    def stop(self, timeout_s: float = 15.0) -> None:
        # uvicorn re-raises SIGTERM after its shutdown, which would end the process before
        # pyinstrument writes; SIGINT arrives as KeyboardInterrupt, which pyinstrument
        # catches and then writes the profile.
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout_s)
        super().stop(timeout_s)
        session = self.profile_path.with_suffix(".pyisession")
        if session.exists():
            # The web stack's own frames are shown: where a request's time goes between
            # the socket and the route is what these profiles are for.
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pyinstrument",
                    "--load",
                    str(session),
                    "-r",
                    "text",
                    "--no-color",
                    "--show",
                    "*/starlette/*",
                    "--show",
                    "*/fastapi/*",
                    "--show",
                    "*/anyio/*",
                    "--show",
                    "*/pydantic/*",
                    "-o",
                    str(self.profile_path),
                ],
                check=False,
                timeout=120,
            )


@dataclass
class Context:
    """What the runner hands a benchmark: its budget, a log, a stack slice on demand."""

    name: str
    quick: bool
    budget_s: float
    log_dir: Path
    profile_dir: Path | None = None  # when set, services run under pyinstrument
    started: float = field(default_factory=time.monotonic)
    _stacks: list[StackSlice] = field(default_factory=list)
    _services: list[ServiceProcess] = field(default_factory=list)

    @property
    def remaining_s(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def log(self, message: str) -> None:
        print(f"[{self.name} {time.monotonic() - self.started:5.1f}s] {message}", flush=True)

    async def stack(self) -> StackSlice:
        """A fresh database + topic namespace on the local stack, removed at the end."""
        stack = await create_test_stack(tempfile.mkdtemp(prefix="herald-bench-media-"))
        self._stacks.append(stack)
        return stack

    async def service(self, name: str, stack: StackSlice, **env: str) -> ServiceProcess:
        """A service process on `stack` (rate limits lifted, quiet logs), ready, stopped
        at the end."""
        env = {
            "HERALD_RATE_PER_SECOND": "1000000",
            "HERALD_RATE_BURST": "1000000",
            "HERALD_LOG_LEVEL": "WARNING",
            **env,
        }
        process = (
            ServiceProcess(name, stack.env(**env), self.log_dir)
            if self.profile_dir is None
            else ProfiledService(
                name, stack.env(**env), self.log_dir, self.profile_dir / f"{self.name}-{name}.txt"
            )
        )
        self._services.append(process)
        await process.start()
        return process

    async def close(self) -> None:
        for process in reversed(self._services):
            process.stop()
        for stack in reversed(self._stacks):
            with contextlib.suppress(Exception):
                await destroy_test_stack(stack)
        self._services.clear()
        self._stacks.clear()


def to_json(record: Record) -> dict[str, Any]:
    """A record as plain JSON (an invalid figure, NaN, is written as null)."""
    data = asdict(record)
    data["kind"] = "check" if isinstance(record, Check) else "result"
    if isinstance(record, Check):
        data["met"] = record.met
        data["verdict"] = record.verdict
        for key in ("value", "subject", "baseline"):
            if data[key] is not None and not math.isfinite(data[key]):
                data[key] = None
    return data


def from_json(data: dict[str, Any]) -> Record:
    data = dict(data)
    kind = data.pop("kind")
    data.pop("met", None)
    data.pop("verdict", None)
    if kind == "check" and data.get("value") is None:
        data["value"] = math.nan
    return Check(**data) if kind == "check" else Result(**data)
