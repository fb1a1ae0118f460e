"""Stream starts are coalesced: lookups that arrive while a query runs share the next
one, each gets its own account's channels, and a failed query fails only its lookups."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.feed.live import starts
from services.feed.live.starts import StreamStarts
from services.feed.queries import stream as queries

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
Starts = tuple[datetime, dict[str, list[UUID]]]


class FakePool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        yield None


async def test_concurrent_lookups_share_queries_and_get_their_own_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    follows = {f"a{i}": [uuid4()] for i in range(50)}
    batches: list[list[str]] = []

    async def stream_starts(
        _conn: Any, accounts: list[str]
    ) -> tuple[datetime, dict[str, list[UUID]]]:
        batches.append(accounts)
        await asyncio.sleep(0.01)
        return NOW, {a: follows[a] for a in accounts if a in follows}

    monkeypatch.setattr(queries, "stream_starts", stream_starts)
    lookups = StreamStarts(FakePool())
    answers = await asyncio.gather(*(lookups.lookup(a) for a in [*follows, "nobody"]))
    assert answers[:-1] == [(NOW, follows[a]) for a in follows]
    assert answers[-1] == (NOW, [])
    assert len(batches) <= starts.IN_FLIGHT_MAX + 1
    assert sorted(a for batch in batches for a in batch) == sorted([*follows, "nobody"])


async def test_a_failed_query_fails_its_lookups_and_the_next_ones_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def stream_starts(
        _conn: Any, accounts: list[str]
    ) -> tuple[datetime, dict[str, list[UUID]]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("connection lost")
        return NOW, {}

    monkeypatch.setattr(queries, "stream_starts", stream_starts)
    lookups = StreamStarts(FakePool())
    with pytest.raises(OSError):
        await lookups.lookup("a")
    assert await lookups.lookup("b") == (NOW, [])
