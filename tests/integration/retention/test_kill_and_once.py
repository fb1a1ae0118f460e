"""The service process: killed in the middle of a run, the next run ends in the same state
and deletes nothing more; `--once` runs at the clock it is given."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import orjson

from tests.integration.retention.builder import Builder, ago
from tests.integration.retention.conftest import Run
from tests.support.processes import ROOT, ServiceProcess
from tests.support.stack import StackSlice

EXPIRED_POSTS = 1500


async def test_killed_mid_run_the_next_run_finishes_the_same_way(
    builder: Builder, run: Run, spawn_service: Callable[..., ServiceProcess]
) -> None:
    now = datetime.now(UTC)
    daily = await builder.channel(retention_days=1)
    monthly = await builder.channel(retention_days=30)
    expired = await builder.posts(
        daily, [ago(now, hours=30, seconds=s) for s in range(EXPIRED_POSTS)]
    )
    fresh = await builder.posts(daily, [ago(now, hours=2, seconds=s) for s in range(20)])
    neighbours = await builder.posts(monthly, [ago(now, days=d) for d in (29, 5, 1)])
    await builder.follow_and_interact(expired + fresh + neighbours, ["acct-1", "acct-2"])
    before_fresh = await builder.rows_of(fresh + neighbours)

    # Tiny batches and a short interval: the kill lands inside a run.
    service = spawn_service(
        "retention", HERALD_RETENTION_INTERVAL_S="0.2", HERALD_RETENTION_BATCH_SIZE="3"
    )
    service.spawn()
    try:
        async with asyncio.timeout(60):
            # Poll the database: the first deleted batch means a run is under way.
            while True:
                if (await builder.rows_of(expired))["posts"] < EXPIRED_POSTS:
                    break
                await asyncio.sleep(0.02)
    finally:
        service.kill()
    left_at_kill = (await builder.rows_of(expired))["posts"]

    report = await run(now)

    assert set((await builder.rows_of(expired)).values()) == {0}
    # The kill landed mid-run; a batch in flight may still have committed after it.
    assert 0 < report.posts_expired <= left_at_kill
    assert await builder.rows_of(fresh + neighbours) == before_fresh
    assert (await run(now)).posts_expired == 0


async def test_once_mode_runs_at_the_given_clock_and_exits(
    builder: Builder, stack: StackSlice
) -> None:
    now = datetime.now(UTC)
    channel = await builder.channel(retention_days=1)
    # Not expired by the wall clock, expired by the clock given to --once. (A small step
    # ahead: the session's other content is not old enough to notice it.)
    posts = await builder.posts(channel, [ago(now, hours=23)])
    given = now + timedelta(hours=2)

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.retention",
        "--once",
        env=stack.env(HERALD_RETENTION_NOW=given.isoformat()),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    report = orjson.loads(out)
    assert report["skipped"] is False
    assert report["posts_expired"] >= 1
    assert (await builder.rows_of(posts))["posts"] == 0
