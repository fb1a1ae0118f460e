"""The feed's supervisor: `HERALD_FEED_WORKERS` feed processes on one port.

Each worker is a whole feed (`python -m services.feed --worker`): its own listening
socket bound with SO_REUSEPORT (the kernel spreads new connections over the workers),
its own pool and producer, and its own live consumer reading every partition of
herald.live.v1 by manual assignment, as a single feed does (never a shared group:
every worker must see every event for its own streams). A worker serves only the
streams it accepted; a follow made through any worker reaches the others through the
live topic's follow signals, as between feed machines. Why not uvicorn's `workers=`:
its supervisor imports the app by name with uvicorn's own protocol classes and start-up,
and the feed serves its own protocol class (`live.transport`) and starts its own way.

Caps such as `HERALD_FEED_SSE_MAX_CONNECTIONS` stay per worker: one machine takes
workers times the cap in streams.

Metrics: Prometheus multiprocess mode (`shared.metrics.multiprocess`), not one scrape
target per worker: the same `feed` target and dashboards whatever the worker count, no
extra ports to publish or keep in step with Prometheus's configuration. The supervisor
empties a metrics directory at start (`PROMETHEUS_MULTIPROC_DIR`, or a fresh temporary
one), hands it to every worker, and marks each exited worker dead (its live gauges leave
the sums; its counters stay). Open streams are exported per worker (`pid` label);
dashboards sum them. The operations port (`HERALD_FEED_OPS_PORT`: `/metrics` with every
worker's samples merged, `/healthz`, `/readyz`) is bound by worker 0 alone (started with
`OPS_FLAG`), not by the supervisor: the supervisor stays a small synchronous loop with no
event loop, connections or readiness checks of its own, while a worker already has all
three. The cost: while worker 0 restarts, a scrape of the port fails (Prometheus shows
the gap as `up` 0) though the other workers keep serving clients.

Lifecycle: a worker that exits is started again after a backoff (doubling from
`RESTART_MIN_S` to `RESTART_MAX_S`; back to the minimum once a worker has run
`STABLE_S`). A worker that fails `MAX_QUICK_FAILURES` times in a row without becoming
stable ends the supervisor (exit status 1) rather than looping on a broken setup.
SIGTERM or SIGINT stops every worker with SIGTERM (each closes its streams and
finishes requests, as a single feed does), waits `STOP_GRACE_S`, kills what remains,
and exits 0. On Linux each worker is also told to exit when the supervisor dies
(PR_SET_PDEATHSIG), so a killed supervisor leaves no worker on the port.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from shared.metrics import multiprocess

log = logging.getLogger(__name__)

WORKER_FLAG = "--worker"
# Given to worker 0 only: it serves the operations port (see the module doc).
OPS_FLAG = "--ops"
RESTART_MIN_S = 0.5
RESTART_MAX_S = 30.0
# A worker that ran this long was healthy: its next failure starts the backoff afresh.
STABLE_S = 30.0
MAX_QUICK_FAILURES = 5
# A worker's own graceful shutdown is bounded at about 10 s (uvicorn's), plus its pool.
STOP_GRACE_S = 20.0
POLL_S = 0.2
_PR_SET_PDEATHSIG = 1


@dataclass
class Worker:
    """One worker slot: its current process (None while waiting to restart)."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    backoff_s: float = RESTART_MIN_S
    quick_failures: int = 0


def _die_with_parent(parent: int) -> None:
    """In the child before exec: SIGTERM when the supervisor dies (Linux only)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os._exit(1)


class Supervisor:
    """Runs `count` workers until SIGTERM/SIGINT (see the module doc); `run` returns the
    exit status."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.workers = [Worker(index) for index in range(count)]
        self.stopping = False
        self.metrics_dir: Path | None = None
        self._own_metrics_dir = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self._prepare_metrics()
        status = 0
        try:
            for worker in self.workers:
                self._spawn(worker)
            log.info("feed workers started", extra={"workers": self.count})
            while not self.stopping:
                if not self._watch():
                    status = 1
                    break
                time.sleep(POLL_S)
        finally:
            self._stop_all()
            if self._own_metrics_dir and self.metrics_dir is not None:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return status

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc is not None]

    # ---------------------------------------------------------------- internals

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _prepare_metrics(self) -> None:
        path = multiprocess.directory()
        if path is None:
            path = Path(tempfile.mkdtemp(prefix="herald-feed-metrics-"))
            self._own_metrics_dir = True
        multiprocess.reset_directory(path)
        self.metrics_dir = path

    def _spawn(self, worker: Worker) -> None:
        assert self.metrics_dir is not None
        env = {**os.environ, multiprocess.ENV: str(self.metrics_dir)}
        parent = os.getpid()
        worker.proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "services.feed", WORKER_FLAG]
            + ([OPS_FLAG] if worker.index == 0 else []),
            env=env,
            preexec_fn=lambda: _die_with_parent(parent),
        )
        worker.started_at = time.monotonic()
        log.info("feed worker started", extra={"worker": worker.index, "pid": worker.proc.pid})

    def _watch(self) -> bool:
        """Reap exited workers and start due restarts; False when one keeps failing."""
        now = time.monotonic()
        for worker in self.workers:
            proc = worker.proc
            if proc is None:
                if now >= worker.restart_at and not self.stopping:
                    self._spawn(worker)
                continue
            status = proc.poll()
            if status is None:
                continue
            self._reaped(proc.pid)
            worker.proc = None
            if now - worker.started_at >= STABLE_S:
                worker.backoff_s, worker.quick_failures = RESTART_MIN_S, 0
            worker.quick_failures += 1
            if worker.quick_failures >= MAX_QUICK_FAILURES:
                log.error(
                    "feed worker keeps failing; stopping the feed",
                    extra={"worker": worker.index, "status": status},
                )
                return False
            worker.restart_at = now + worker.backoff_s
            log.warning(
                "feed worker exited; restarting",
                extra={"worker": worker.index, "status": status, "in_s": worker.backoff_s},
            )
            worker.backoff_s = min(worker.backoff_s * 2, RESTART_MAX_S)
        return True

    def _reaped(self, pid: int) -> None:
        if self.metrics_dir is not None:
            multiprocess.process_dead(pid, self.metrics_dir)

    def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None]
        for proc in running:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("feed worker did not stop in time; killed", extra={"pid": proc.pid})
                proc.kill()
                proc.wait()
            self._reaped(proc.pid)
        for worker in self.workers:
            worker.proc = None
