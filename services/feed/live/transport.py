"""The feed's HTTP protocol: the bounded httptools protocol every service runs on
(`shared.http.protocol`: request heads capped in size and time) that can also hand a
connection over to the SSE hub once a stream's response has started.

Why: the hub writes each live event's final bytes straight to every stream's transport
(see `live.hub`), and ASGI has no way to reach the transport; uvicorn (the version
pinned in pyproject.toml) neither puts it in the scope nor offers an extension for it.
So `StreamingHttpProtocol` offers its connection to the app as the ASGI extension
`herald.connection`, and `hand_over` does for an SSE response what uvicorn itself does
for a WebSocket upgrade: the connection leaves uvicorn's set of connections and the
transport gets a new protocol (`StreamProtocol`), which only reports the client gone.
The ASGI request then ends normally, so an open stream holds no task, coroutine frame,
scope or parser: only its transport, that small protocol and the hub's record. The head
timer stopped when the stream's request head was complete, and a handed-over connection
never gets another (it carries no further requests): a stream lives as long as its
client reads it.

It relies on a few points of uvicorn's protocol: `on_message_begin` builds each
request's scope (`self.scope`); `self.flow` is its flow control (to wait for a client
reading a replay); `self.connections` and `self.cycle` (marked complete so uvicorn's
request task ends without closing the transport). The stream's integration tests fail
if an upgrade moves any of them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, MutableMapping
from typing import Any

from shared.http.protocol import BoundedHttpProtocol

EXTENSION = "herald.connection"


class StreamProtocol(asyncio.Protocol):
    """A handed-over SSE connection: ignores what the client sends (an SSE client sends
    nothing after its request) and calls `on_lost` once when the connection closes."""

    __slots__ = ("on_lost",)

    def __init__(self, on_lost: Callable[[], None]) -> None:
        self.on_lost: Callable[[], None] | None = on_lost

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        callback, self.on_lost = self.on_lost, None
        if callback is not None:
            callback()


class StreamingHttpProtocol(BoundedHttpProtocol):
    """`BoundedHttpProtocol` whose requests carry `scope["extensions"]["herald.connection"]`
    = `{"connection": <this protocol>}`."""

    _end_callback: Callable[[], None] | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope.setdefault("extensions", {})[EXTENSION] = {"connection": self}

    def on_end(self, callback: Callable[[], None]) -> None:
        """Until `hand_over`: call `callback` once when the connection closes or the server
        shuts down (at once if the connection is already closing)."""
        if self.transport.is_closing():
            callback()
        else:
            self._end_callback = callback

    async def drain(self) -> None:
        """Until `hand_over`: wait until the transport's buffer is under its low-water
        mark (asyncio's `pause_writing`/`resume_writing`, which uvicorn tracks) or the
        connection is lost."""
        await self.flow.drain()

    def hand_over(self, on_lost: Callable[[], None], send_buffer: int) -> asyncio.Transport | None:
        """The response has started and is the hub's from now on: the connection leaves
        uvicorn (as on a WebSocket upgrade) and `on_lost` is called when it closes.
        The kernel's send buffer is fixed at `send_buffer` bytes: left to autotuning it
        grows to megabytes for a client that stops reading, outside any bound of ours.
        Returns the transport, or None when the connection is already closing."""
        self._end_callback = None
        self._cancel_head_timer()
        if self.transport.is_closing():
            return None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self.connections.discard(self)
        # uvicorn's request task then ends without closing the transport or writing more.
        self.cycle.response_complete = True
        self._unset_keepalive_if_required()
        self.transport.set_protocol(StreamProtocol(on_lost))
        return self.transport

    def _ended(self) -> None:
        callback, self._end_callback = self._end_callback, None
        if callback is not None:
            callback()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._ended()

    def shutdown(self) -> None:
        super().shutdown()
        self._ended()


def connection_of(scope: MutableMapping[str, Any]) -> StreamingHttpProtocol | None:
    """The connection a request came on, when served by `StreamingHttpProtocol`."""
    extension = scope.get("extensions", {}).get(EXTENSION)
    if extension is None:
        return None
    connection: StreamingHttpProtocol = extension["connection"]
    return connection
