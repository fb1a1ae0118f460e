"""GET /v1/stream: Server-Sent Events for the caller's followed channels.

Events: `post`, `post_deleted`, `counters`, `history_trimmed`, `resync` (see
`live.render`), each with an orderable `id` (see `live.ids`). A reconnect with the
`Last-Event-ID` header replays, from Postgres, the post changes after that id (at most
`HERALD_FEED_SSE_REPLAY_MAX`; past that a single `resync` tells the client to refetch).
Browsers' `EventSource` sends no headers on the first open: it authenticates with
`?ticket=` (see `routes.tickets`) and resumes with `?last_event_id=`. When both the
header and the query give an id, the header wins: `EventSource` sets it on its own
reconnects, and it is then newer than the id in the URL it keeps reusing.
A comment line every `HERALD_FEED_SSE_HEARTBEAT_S` keeps proxies from closing the
stream. Limits: 429 past `HERALD_FEED_SSE_STREAMS_PER_ACCOUNT` open streams of one
account on this process, 503 past `HERALD_FEED_SSE_MAX_CONNECTIONS` on this process.
Muted channels still stream (they update the UI; muting silences alerts only).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from services.feed.api.deps import LiveHub, Pool, Settings, StreamAccount
from services.feed.live.hub import StreamLimit
from services.feed.live.ids import EventId
from services.feed.live.stream import event_stream
from services.feed.queries import stream as queries
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
    caller: StreamAccount,
    pool: Pool,
    hub: LiveHub,
    settings: Settings,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
    last_event_id_query: Annotated[
        str | None,
        Query(alias="last_event_id", max_length=64, description="as the Last-Event-ID header"),
    ] = None,
) -> StreamingResponse:
    resume = last_event_id or last_event_id_query
    resume_from = EventId.parse(resume) if resume else None
    async with pool.acquire() as conn:
        now, channel_ids = await queries.stream_start(conn, caller.account_id)
    try:
        conn_ = hub.open(caller.account_id, channel_ids)
    except StreamLimit as exc:
        raise Problem(
            exc.status, exc.reason, type_="too-many-streams", headers={"Retry-After": "5"}
        ) from None
    body = event_stream(
        conn_,
        hub,
        pool,
        resume_from=resume_from,
        opened_at=EventId.at(now),
        heartbeat_s=settings.sse_heartbeat_s,
        replay_max=settings.sse_replay_max,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        # Unregisters even if the generator never started (client gone at once).
        background=BackgroundTask(hub.close, conn_),
    )
