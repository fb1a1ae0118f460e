"""One SSE stream's start: the response start (through ASGI), the preamble and the
replay after `Last-Event-ID` (written to the transport), then hand-over to the hub.

`EventStreamResponse` starts the response, attaches the stream's transport to the hub
(live items are held meanwhile), writes the replay (waiting for the client to read when
the transport asks to pause), hands the connection over (`live.transport`) and ends the
ASGI request. The hub alone writes to the stream from then on; the connection's end
unregisters it. Any failure before the hand-over unregisters it too.

Replays read Postgres under a per-process cap (`replay_slots`,
`HERALD_FEED_SSE_REPLAYS_CONCURRENT`): only the query holds a slot, not the writing to a
client that reads slowly.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.feed.live.hub import Hub, Stream
from services.feed.live.ids import EventId
from services.feed.live.render import post_item, preamble, resync_item
from services.feed.live.transport import StreamingHttpProtocol
from services.feed.queries import stream as queries
from shared.metrics.feed import SSE_EVENTS_PUSHED

HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStreamResponse(Response):
    """The `text/event-stream` response of one registered stream (see the module doc)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: Hub,
        stream: Stream,
        connection: StreamingHttpProtocol,
        pool: asyncpg.Pool,
        *,
        resume_from: EventId | None,
        opened_at: EventId,
        replay_max: int,
        replay_slots: asyncio.Semaphore,
    ) -> None:
        # No body and no Content-Length: the server sends it chunked, as render expects.
        self.status_code = 200
        self.background = None
        self.raw_headers = list(HEADERS)
        self.hub = hub
        self.stream = stream
        self.connection = connection
        self.pool = pool
        self.resume_from = resume_from
        self.opened_at = opened_at
        self.replay_max = replay_max
        self.replay_slots = replay_slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub, stream, connection = self.hub, self.stream, self.connection
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            hub.attach(stream, connection.transport, preamble(self.resume_from or self.opened_at))
            connection.on_end(lambda: hub.close(stream))
            sent = await self._replay()
        except BaseException:
            hub.close(stream)
            raise
        transport = connection.hand_over(lambda: hub.close(stream), send_buffer=hub.buffer_max)
        if transport is None:  # the client left during the replay
            hub.close(stream)
            return
        if stream.closed:  # cut off (too much held) or shut down before going live
            transport.abort()
            return
        # Live from here: what was held during the replay, then every event as it comes.
        hub.replayed(stream, sent)

    async def _replay(self) -> set[EventId]:
        """Write the post changes after `resume_from` (or one `resync` when there are
        more than `replay_max`); returns the ids sent."""
        sent: set[EventId] = set()
        if self.resume_from is None:
            return sent
        # A slot first, then a connection: a reconnect storm queues here, leaving the rest
        # of the pool to live delivery and the API. Live items stay held meanwhile.
        async with self.replay_slots, self.pool.acquire() as db:
            rows = await queries.replay(
                db, self.stream.account_id, self.resume_from, self.replay_max + 1
            )
            now = await db.fetchval("SELECT now()") if len(rows) > self.replay_max else None
        if now is not None:
            if self.hub.write(self.stream, resync_item(EventId.at(now)).wire):
                SSE_EVENTS_PUSHED.labels(event="resync", source="replay").inc()
            return sent
        events: Counter[str] = Counter()
        transport = self.connection.transport
        for row in rows:
            item = post_item(row)
            assert item.event_id is not None
            if not self.hub.write(self.stream, item.wire):
                break
            sent.add(item.event_id)
            events[item.event] += 1
            if transport.get_write_buffer_size():
                # The client is reading its backlog: wait for it rather than cut it off
                # (returns at once unless the transport asked us to pause writing).
                await self.connection.drain()
        for event, count in events.items():
            SSE_EVENTS_PUSHED.labels(event=event, source="replay").inc(count)
        return sent
