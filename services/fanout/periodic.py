"""A task that does one round of work every `interval_s` until asked to stop.

A failed round (Postgres away, most often) is logged and the next round tries again:
periodic work here only ever catches up on state that is already durable. A task whose
work piles up between rounds (`final_round = True`) does one last round when stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class Periodic:
    name = "periodic task"
    final_round = False

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stopping = asyncio.Event()

    async def tick(self) -> None:
        raise NotImplementedError

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            if self._stopping.is_set():
                break
            await self._round()
        if self.final_round:
            await self._round()

    async def _round(self) -> None:
        try:
            await self.tick()
        except Exception:
            log.warning("%s failed; the next round catches up", self.name, exc_info=True)
