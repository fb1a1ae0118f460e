"""A small Server-Sent Events client for tests: reads a stream in a task and hands out
parsed events (`id`, `event`, `data` as JSON)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson


@dataclass
class SseEvent:
    id: str | None
    event: str
    data: Any


class SseReader:
    def __init__(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
    ) -> None:
        self.client = client
        self.headers = headers
        self.params = params or {}
        self.events: asyncio.Queue[SseEvent] = asyncio.Queue()
        self.status: int | None = None
        self._opened = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SseReader:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self._task

    async def _read(self) -> None:
        async with self.client.stream(
            "GET", "/v1/stream", headers=self.headers, params=self.params
        ) as response:
            self.status = response.status_code
            self._opened.set()
            if response.status_code != 200:
                return
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "event" in fields:
                        await self.events.put(
                            SseEvent(
                                fields.get("id"), fields["event"], orjson.loads(fields["data"])
                            )
                        )
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")

    async def next(
        self, match: Callable[[SseEvent], bool] = lambda e: True, timeout_s: float = 20
    ) -> SseEvent:
        """The next event that matches (others are skipped)."""
        async with asyncio.timeout(timeout_s):
            while True:
                event = await self.events.get()
                if match(event):
                    return event


def is_post(event: SseEvent) -> bool:
    return event.event == "post"
