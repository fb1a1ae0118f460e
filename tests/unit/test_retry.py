"""`retry_until`: the start-up wait every service uses for Postgres and the broker."""

from __future__ import annotations

import pytest

from shared.retry import retry_until


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Flaky:
    """Fails with `error` the first `failures` times, then answers "up"."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "up"


async def test_returns_the_first_success_after_backing_off() -> None:
    fake = FakeTime()
    attempt = Flaky(6, ConnectionRefusedError("not yet"))
    result = await retry_until(
        60, attempt, retry_on=(OSError,), what="postgres", clock=fake.clock, sleep=fake.sleep
    )
    assert result == "up"
    assert attempt.calls == 7
    # Doubling from the first delay, capped.
    assert fake.sleeps == [0.2, 0.4, 0.8, 1.6, 3.0, 3.0]


async def test_gives_up_with_the_last_error_when_time_runs_out() -> None:
    fake = FakeTime()
    attempt = Flaky(1000, ConnectionRefusedError("still down"))
    with pytest.raises(ConnectionRefusedError, match="still down"):
        await retry_until(
            10, attempt, retry_on=(OSError,), what="kafka", clock=fake.clock, sleep=fake.sleep
        )
    # No attempt starts after the budget; the last one is close to it.
    assert fake.now <= 10
    assert fake.now + 3.0 > 10
    assert attempt.calls == len(fake.sleeps) + 1


async def test_an_error_not_listed_is_raised_at_once() -> None:
    fake = FakeTime()
    attempt = Flaky(1, ValueError("bad url"))
    with pytest.raises(ValueError, match="bad url"):
        await retry_until(
            60, attempt, retry_on=(OSError,), what="postgres", clock=fake.clock, sleep=fake.sleep
        )
    assert attempt.calls == 1
    assert fake.sleeps == []


async def test_runs_on_the_real_clock() -> None:
    attempt = Flaky(2, TimeoutError())
    result = await retry_until(
        5, attempt, retry_on=(TimeoutError,), what="kafka", first_delay_s=0.001
    )
    assert result == "up"
    assert attempt.calls == 3
