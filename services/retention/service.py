"""The retention service process: a run every `interval_s`, or one run (`--once`).

The long-running mode serves `/healthz`, `/readyz` and `/metrics` and starts a run at
start-up and then every `interval_s` after the previous one finished. A failed run is
logged and counted; the next one retries (every step is restartable), after
`interval_s`, or after `FAILOVER_RETRY_S` when the database was lost or demoted (a
failover: the pool's connections are replaced first, and the new primary is usually
there within seconds). SIGTERM stops
between runs or cancels the current one: whatever it had committed stays committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from services.retention.config import RetentionSettings
from services.retention.run import RunReport, run_once
from shared.db.failover import unavailable
from shared.db.pool import recycle_after_failover
from shared.http.ops import Readiness, create_ops_app, ops_server
from shared.runtime import Dependencies

log = logging.getLogger(__name__)

SERVICE = "retention"
# After a run failed because the database was unavailable: retry this soon, not after a
# whole interval (300 s by default), so a failover delays expiry by seconds.
FAILOVER_RETRY_S = 5.0


def clock(settings: RetentionSettings) -> datetime:
    """The run's `now`: the configured fixed time if any, else the wall clock."""
    return settings.now.astimezone(UTC) if settings.now is not None else datetime.now(UTC)


def next_run_in(settings: RetentionSettings, failure: Exception | None) -> float:
    """Seconds until the next run: `interval_s`, or `FAILOVER_RETRY_S` (if shorter) when
    the last run failed because the database was unreachable, going away or not the
    primary."""
    if failure is not None and unavailable(failure):
        return min(settings.interval_s, FAILOVER_RETRY_S)
    return settings.interval_s


async def run_service(settings: RetentionSettings, stop: asyncio.Event) -> None:
    readiness = Readiness()
    # The run lock is a session-level advisory lock on a pooled connection (run.py).
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness, session_state=True)
    server = ops_server(create_ops_app(SERVICE, readiness), settings.ops_host, settings.ops_port)
    serving = asyncio.create_task(server.serve())
    try:
        await deps.start()
        while not stop.is_set():
            run = asyncio.create_task(
                run_once(deps.require_pool(), deps.require_producer(), settings, clock(settings))
            )
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not run.done():
                run.cancel()
            failure: Exception | None = None
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await run
                except Exception as exc:
                    log.exception("retention run failed; the next run retries")
                    await recycle_after_failover(exc)
                    failure = exc
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=next_run_in(settings, failure))
    finally:
        server.should_exit = True
        await serving
        await deps.stop()


async def run_one(settings: RetentionSettings) -> RunReport:
    """`--once`: migrate, make sure topics exist, run once, close everything."""
    deps = Dependencies(
        settings=settings, service=SERVICE, readiness=Readiness(), session_state=True
    )
    try:
        await deps.start()
        return await run_once(
            deps.require_pool(), deps.require_producer(), settings, clock(settings)
        )
    finally:
        await deps.stop()
