"""GET /v1/stream: Server-Sent Events for the caller's followed channels.

Events: `post`, `post_deleted`, `counters`, `history_trimmed`, `resync` (see
`live.render`); post changes carry an orderable `id` (see `live.ids`), and the stream
starts with its position as an id. A reconnect with the `Last-Event-ID` header replays,
from Postgres, the post changes after that id (at most `HERALD_FEED_SSE_REPLAY_MAX`;
past that a single `resync` tells the client to refetch); at most
`HERALD_FEED_SSE_REPLAYS_CONCURRENT` replays read Postgres at once per process, the
others wait their turn (their live events held meanwhile).
Browsers' `EventSource` sends no headers on the first open: it authenticates with
`?ticket=` (see `routes.tickets`) and resumes with `?last_event_id=`. When both the
header and the query give an id, the header wins: `EventSource` sets it on its own
reconnects, and it is then newer than the id in the URL it keeps reusing.
A comment line every `HERALD_FEED_SSE_HEARTBEAT_S` keeps proxies from closing the
stream. Limits: 429 past `HERALD_FEED_SSE_STREAMS_PER_ACCOUNT` open streams of one
account on this process, 503 past `HERALD_FEED_SSE_MAX_CONNECTIONS` on this process; a
client that stops reading is cut off (it resumes with `Last-Event-ID`).
Muted channels still stream (they update the UI; muting silences alerts only).

The route decides who the caller is and where the stream resumes; `open_stream` does
the rest (registration, caps, the response).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from services.feed.api.deps import StreamAccount, get_hub, get_pool, get_settings
from services.feed.live.hub import StreamLimit
from services.feed.live.ids import EventId
from services.feed.live.starts import StreamStarts
from services.feed.live.stream import EventStreamResponse
from services.feed.live.transport import connection_of
from shared.http.problems import Problem

router = APIRouter(tags=["stream"])


@router.get(
    "/v1/stream",
    summary="Live updates (text/event-stream)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: {"description": "no valid bearer token, or a bad, used or expired ticket"},
        429: {"description": "too many open streams for this account"},
        503: {"description": "this server has no room for more streams"},
    },
)
async def stream(
    request: Request,
    caller: StreamAccount,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(alias="last_event_id", max_length=64, description="as the Last-Event-ID header"),
    ] = None,
) -> Response:
    resume = last_event_id or last_event_id_query
    resume_from = EventId.parse(resume) if resume else None
    return await open_stream(request, caller.account_id, resume_from)


async def open_stream(request: Request, account_id: str, resume_from: EventId | None) -> Response:
    """Register a stream of `account_id` resuming after `resume_from` (None: from now)
    and answer with it; 429/503 problems past the caps.

    Pool, hub and settings come from the app's state rather than as dependencies:
    opening streams is the feed's one storm-shaped path (every client of a restarted
    instance at once), and each resolved dependency costs more than the lookup."""
    pool, hub = await get_pool(request), await get_hub(request)
    settings = await get_settings(request)
    connection = connection_of(request.scope)
    if connection is None:
        # Only the feed's own HTTP protocol hands the hub a transport (live.transport).
        raise Problem(503, "live streams are not served by this server", type_="unavailable")
    starts: StreamStarts = request.app.state.stream_starts
    now, channel_ids = await starts.lookup(account_id)
    try:
        registered = hub.open(account_id, channel_ids)
    except StreamLimit as exc:
        raise Problem(
            exc.status, exc.reason, type_="too-many-streams", headers={"Retry-After": "5"}
        ) from None
    return EventStreamResponse(
        hub,
        registered,
        connection,
        pool,
        resume_from=resume_from,
        opened_at=EventId.at(now),
        replay_max=settings.sse_replay_max,
        replay_slots=_replay_slots(request, settings.sse_replays_concurrent),
    )


def _replay_slots(request: Request, size: int) -> asyncio.Semaphore:
    """The process's cap on concurrent replays (made on first use, on the app's loop)."""
    state = request.app.state
    slots: asyncio.Semaphore | None = getattr(state, "replay_slots", None)
    if slots is None:
        slots = state.replay_slots = asyncio.Semaphore(size)
    return slots
