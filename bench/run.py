"""The benchmark runner: every `bench/<name>.py` exposing `benchmark` (bench.harness).

Usage: python -m bench.run [--quick] [--only a,b] [--skip a,b] [--out bench/results]

Runs the discovered benchmarks one after another (never two at once: they share 2 cores
with whatever else runs), each within its budget (FULL_BUDGET_S / QUICK_BUDGET_S; a
benchmark over budget is cancelled and reported as such, its stack slice and processes
cleaned up), then writes `<out>/<date>.json` and `<out>/<date>.md` with the PNG plots
beside them (bench.report). Needs the local stack running (`make bench` starts it).
A benchmark that fails is reported with its error; the others still run. Exit status 1
if any benchmark failed or any target was missed (each printed at the end): a missed
target, an invalid measurement (zero baseline) or a lost event fails `make bench`.

The report names the commit it measured only when the working tree is clean (`git status
--porcelain` empty, apart from `bench/results/` and `.local/`). On a dirty tree the run
still happens, but is recorded with `commit: null` and `dirty: true` (and the paths that
differ), so a committed result file can always be traced to the exact code it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bench import report
from bench.harness import Check, Context, Record, Result

BENCH_DIR = Path(__file__).resolve().parent
# Changes here do not make a run's code differ from its commit: results being written,
# the local servers' data.
CLEAN_TREE_IGNORES = ("bench/results/", ".local/")
NOT_BENCHMARKS = {"__init__", "harness", "run", "report"}
# Per benchmark. The whole full suite stays under 45 minutes, the quick one under 8.
FULL_BUDGET_S = 240.0
QUICK_BUDGET_S = 45.0
FULL_SUITE_S = 45 * 60.0
QUICK_SUITE_S = 8 * 60.0

Benchmark = Callable[[Context, bool], Awaitable[list[Record]]]


def discover(only: set[str], skip: set[str]) -> list[tuple[str, Benchmark]]:
    found: list[tuple[str, Benchmark]] = []
    for path in sorted(BENCH_DIR.glob("*.py")):
        name = path.stem
        if name in NOT_BENCHMARKS or (only and name not in only) or name in skip:
            continue
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "benchmark", None)
        if callable(entry) and list(inspect.signature(entry).parameters) == ["ctx", "quick"]:
            found.append((name, cast(Benchmark, entry)))
        else:
            print(f"[run] bench/{name}.py has no benchmark(ctx, quick): not run", flush=True)
    return found


def budget_of(benchmark: Benchmark, quick: bool) -> float:
    """The module's own `QUICK_BUDGET_S` / `FULL_BUDGET_S` if it sets one (a benchmark that
    must build a large fixture), else the runner's."""
    module = sys.modules.get(getattr(benchmark, "__module__", ""))
    own = getattr(module, "QUICK_BUDGET_S" if quick else "FULL_BUDGET_S", None)
    if isinstance(own, int | float):
        return float(own)
    return QUICK_BUDGET_S if quick else FULL_BUDGET_S


async def run_one(
    name: str,
    benchmark: Benchmark,
    quick: bool,
    log_dir: Path,
    suite_left_s: float,
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    budget = max(5.0, min(budget_of(benchmark, quick), suite_left_s))
    ctx = Context(name, quick, budget, log_dir, profile_dir)
    started = time.monotonic()
    records: list[Record] = []
    error: str | None = None
    ctx.log(f"start (budget {budget:.0f} s)")
    try:
        records = await asyncio.wait_for(benchmark(ctx, quick), timeout=budget)
    except TimeoutError:
        error = f"over its budget of {budget:.0f} s, cancelled"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        await ctx.close()
    for record in records:
        if not record.bench:
            record.bench = name
    seconds = time.monotonic() - started
    ctx.log(f"done in {seconds:.1f} s" + (f" — FAILED: {error}" if error else ""))
    for record in records:
        if isinstance(record, Check):
            ctx.log(
                f"  {record.what}: {record.value:.3g} (target {record.op} {record.target:g}) "
                f"{record.verdict if record.met else record.verdict.upper()}"
            )
    return {"name": name, "seconds": seconds, "error": error, "records": records}


def dirty_paths(porcelain_z: str, ignore: tuple[str, ...] = CLEAN_TREE_IGNORES) -> list[str]:
    """The paths `git status --porcelain -z` reports as changed or untracked, apart from
    those under `ignore`. Entries are `XY path`, NUL-terminated; a rename or copy is
    followed by its source path as a separate entry, which counts too."""
    paths: list[str] = []
    entries = iter(porcelain_z.split("\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        paths.append(path)
        if "R" in status or "C" in status:
            paths.append(next(entries, ""))
    return [p for p in paths if p and not p.startswith(ignore)]


def code_identity(head: str | None, dirty: list[str]) -> dict[str, Any]:
    """What the report says measured code: the commit only for a clean tree."""
    return {
        "commit": head if head and not dirty else None,
        "dirty": bool(dirty) or not head,
        "dirty_paths": dirty[:20],
    }


def machine() -> dict[str, Any]:
    root = BENCH_DIR.parent

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, check=True, cwd=root
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            return None

    head = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "-z")
    # An unknown state (no git) is treated as dirty: nothing vouches for the code.
    dirty = dirty_paths(status) if status is not None else ["(git status unavailable)"]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        **code_identity(head.strip() if head else None, dirty),
        "load_average_at_start": os.getloadavg()[0],
    }


def failures(runs: list[dict[str, Any]], checks: list[Check]) -> list[str]:
    """Why the suite fails, one line each: benchmarks that errored, then every check
    not met (missed, invalid, or with losses). Empty when everything passed."""
    lines = [f"{r['name']}: failed: {r['error']}" for r in runs if r["error"]]
    lines += [
        f"{c.bench}: {c.what} = {c.value:.4g} (target {c.op} {c.target:g}): {c.verdict}"
        for c in checks
        if not c.met
    ]
    return lines


async def main(args: argparse.Namespace) -> int:
    only = set(filter(None, args.only.split(",")))
    skip = set(filter(None, args.skip.split(",")))
    log_dir = Path(tempfile.mkdtemp(prefix="herald-bench-logs-"))
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    if info["dirty"]:
        print(
            "[run] the working tree differs from its commit "
            f"({', '.join(info['dirty_paths'][:5])}…): recorded as commit null, dirty",
            flush=True,
        )
    began = datetime.now(UTC)
    print(f"[run] {'quick' if args.quick else 'full'} suite, service logs in {log_dir}", flush=True)
    suite_deadline = time.monotonic() + (QUICK_SUITE_S if args.quick else FULL_SUITE_S)
    runs = []
    for name, benchmark in discover(only, skip):
        left = suite_deadline - time.monotonic()
        runs.append(await run_one(name, benchmark, args.quick, log_dir, left, profile_dir))
    info["seconds"] = sum(r["seconds"] for r in runs)
    records: list[Record] = [rec for r in runs for rec in r["records"]]
    suite = report.Suite(
        started_at=began.isoformat(timespec="seconds"),
        quick=args.quick,
        machine=info,
        runs=[{k: v for k, v in r.items() if k != "records"} for r in runs],
        results=[r for r in records if isinstance(r, Result)],
        checks=[r for r in records if isinstance(r, Check)],
    )
    stem = began.strftime("%Y-%m-%d") + ("-quick" if args.quick else "")
    written = report.write(suite, Path(args.out), stem)
    print(f"[run] {info['seconds']:.0f} s; wrote {', '.join(str(p) for p in written)}")
    print(report.checks_table(suite.checks))
    failed = failures(suite.runs, suite.checks)
    for line in failed:
        print(f"[run] FAILED {line}")
    if not failed:
        print(f"[run] all {len(suite.checks)} targets met")
    return 1 if failed else 0


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs: the suite < 4 min")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"))
    parser.add_argument(
        "--profile", default="", help="run services under pyinstrument, profiles to this dir"
    )
    sys.exit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
