"""Prometheus multiprocess mode: several processes of one service behind one scrape target.

The feed runs `HERALD_FEED_WORKERS` processes on one port (see `services.feed.workers`),
so a scrape reaches whichever worker the kernel picks. With `PROMETHEUS_MULTIPROC_DIR`
set in a process's environment before `prometheus_client` is imported, every metric
writes its samples to a per-process file in that directory, and `exposition` answers a
scrape with all processes' samples merged: counters and histograms summed (those of
exited workers included, so totals never go backwards), each gauge as its
`multiprocess_mode` says (declared with the gauge). Without the variable a process
exports its own registry, as every other service does.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

ENV = "PROMETHEUS_MULTIPROC_DIR"


def directory() -> Path | None:
    """The shared metrics directory of this process, or None when not in multiprocess mode."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


def enabled() -> bool:
    return directory() is not None


def exposition() -> bytes:
    """The text exposition a scrape gets: every process's samples merged in multiprocess
    mode, else this process's registry."""
    if not enabled():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def reset_directory(path: Path) -> None:
    """Create `path` or empty it of the sample files of earlier runs (their processes are
    gone: left there, their counters would add to the new run's and their pids linger)."""
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)


def process_dead(pid: int, path: Path) -> None:
    """A worker exited: drop its `live*` gauge samples (its counters stay in the sums)."""
    multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
