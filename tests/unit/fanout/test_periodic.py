"""Periodic tasks: rounds until stopped, a failed round does not end the task, and a
task with `final_round` (the coalesced counters events) does one more round at stop."""

from __future__ import annotations

import asyncio

from services.fanout.periodic import Periodic


class Rounds(Periodic):
    def __init__(self, stop_after: int, fail_first: bool = False) -> None:
        super().__init__(interval_s=0.001)
        self.stop_after = stop_after
        self.fail_first = fail_first
        self.ticks = 0

    async def tick(self) -> None:
        self.ticks += 1
        if self.ticks >= self.stop_after:
            self.request_stop()
        if self.fail_first and self.ticks == 1:
            raise ConnectionRefusedError("postgres away")


class FinalRounds(Rounds):
    final_round = True


async def test_a_failed_round_is_followed_by_the_next() -> None:
    task = Rounds(stop_after=3, fail_first=True)
    await asyncio.wait_for(task.run(), 10)
    assert task.ticks == 3


async def test_a_stop_between_rounds_ends_without_another_round() -> None:
    task = Rounds(stop_after=1)
    task.request_stop()
    await asyncio.wait_for(task.run(), 10)
    assert task.ticks == 0


async def test_a_final_round_task_does_one_more_round_when_stopped() -> None:
    task = FinalRounds(stop_after=1)
    task.request_stop()
    await asyncio.wait_for(task.run(), 10)
    assert task.ticks == 1
