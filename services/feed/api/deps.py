"""FastAPI dependencies of the feed: settings, pool, hub, interaction emitter, paging.

Auth and per-account rate limits come from `shared.http.auth` (`Account`,
`MaybeAccount`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import Depends, Query, Request

from services.feed.config import FeedSettings
from services.feed.live.hub import Hub
from services.feed.models import PAGE_DEFAULT, PAGE_MAX
from shared.events.envelope import Event
from shared.http.problems import Problem
from shared.kafka import KafkaUnavailable, produce
from shared.metrics.feed import INTERACTIONS_EMITTED
from shared.runtime import Dependencies
from shared.topics import INTERACTIONS

SERVICE = "feed"


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.deps
    return deps


async def get_settings(request: Request) -> FeedSettings:
    settings: FeedSettings = request.app.state.settings
    return settings


async def get_pool(request: Request) -> asyncpg.Pool:
    return _deps(request).require_pool()


async def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


class Emitter:
    """Produces interaction events (feed → fan-out) and waits for the broker's ack.

    The caller's row is already committed when this runs; a broker outage answers 503 and
    the client retries the same idempotent request, which writes the same row and emits
    again. Fan-out's counting is idempotent, so a second event never counts twice.
    """

    def __init__(self, request: Request) -> None:
        deps = _deps(request)
        self.settings = deps.settings
        self.producer = deps.require_producer()
        self.topic = self.settings.topic(INTERACTIONS.name)

    async def emit(self, kind: str, events: list[tuple[UUID, Event]]) -> None:
        try:
            await asyncio.gather(
                *(
                    produce(
                        self.producer,
                        self.topic,
                        str(key),
                        event,
                        self.settings.produce_timeout_s,
                        SERVICE,
                    )
                    for key, event in events
                )
            )
        except KafkaUnavailable:
            raise Problem(
                503,
                "the change is saved but could not be announced; retry the request",
                type_="unavailable",
                headers={"Retry-After": "1"},
            ) from None
        INTERACTIONS_EMITTED.labels(kind=kind).inc(len(events))


Settings = Annotated[FeedSettings, Depends(get_settings)]
Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
LiveHub = Annotated[Hub, Depends(get_hub)]
Emit = Annotated[Emitter, Depends(Emitter)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"page size, at most {PAGE_MAX}")]
Cursor = Annotated[str | None, Query(max_length=256, description="opaque, from next_cursor")]

DEFAULT_LIMIT = PAGE_DEFAULT
