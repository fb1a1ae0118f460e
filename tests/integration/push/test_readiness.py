"""A push process says it is ready only once both its consumers have joined their groups.

Its planner's group starts at the end of the live topic when it is new, so a process that
answered ready earlier (its Postgres connected, Kafka and the consumers still coming up)
let a post published right then go unpushed: the journey once waited in vain for its
first push. Every 200 from /readyz must therefore carry both consumers' checks, passed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from tests.integration.push.conftest import INSECURE
from tests.support.processes import ServiceProcess

STARTS = 2
POLL_S = 0.005  # far finer than the process's start-up steps


async def first_ready_answer(process: ServiceProcess, timeout_s: float = 60.0) -> dict[str, bool]:
    """The checks of the first 200 /readyz gives after `process` was spawned."""
    process.spawn()
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as http:
        while time.monotonic() < deadline:
            assert process.proc is not None and process.proc.poll() is None, process.log_tail()
            try:
                response = await http.get(f"{process.base_url}/readyz")
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                checks: dict[str, bool] = response.json()["checks"]
                return checks
            await asyncio.sleep(POLL_S)
    raise AssertionError(f"push never ready: {process.log_tail()}")


async def test_ready_only_once_both_consumers_joined(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    for _ in range(STARTS):
        process = spawn_service("push", **INSECURE)
        checks = await first_ready_answer(process)
        process.stop()
        assert checks.get("planner-consumer") is True, checks
        assert checks.get("sender-consumer") is True, checks
        assert all(checks.values()), checks
