"""The bare broadcaster: what broadcasting one SSE event to N streams costs with nothing
else — the baseline Herald's feed is compared with in the same run.

A process of raw asyncio protocols on uvloop (the loop the feed runs on): a stream is
any connection that sends a request head (its path and headers are ignored: no auth, no
follows, no replay, no Kafka); it gets a `200` SSE response head with chunked coding and
the same kind of preamble as the feed's, then is held. On its control port, a line
`BROADCAST <marker>` renders one `post` event around the marker once, with a body of the
size of a typical post, and writes those bytes to every open stream's transport in one
pass, as Herald's hub does; a stream whose unsent bytes exceed WRITE_BUFFER_MAX is cut
off, as Herald cuts a slow client off. Answer: `OK <streams written>`. `COUNT` answers
`OK <streams open>`.

Several processes may serve one stream port (`--reuse-port`, SO_REUSEPORT), each with
its own control port: the comparison for Herald's feed workers.

Usage: python -m bench.sse.baseline --port P --control C [--reuse-port]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
import uuid
from typing import cast

import uvloop

LISTEN_BACKLOG = 16_384  # as the feed's
WRITE_BUFFER_MAX = 256 * 1024
RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"x-accel-buffering: no\r\ntransfer-encoding: chunked\r\n\r\n"
)
TYPICAL_BODY = "Line 4 is suspended between Central and Harbour until 18:00; replacement "


def chunk(frame: bytes) -> bytes:
    """`frame` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(frame), frame)


def event_frame(marker: str) -> bytes:
    """The wire bytes of one `post` event carrying `marker`, shaped like the feed's."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    data = {
        "channel_id": str(uuid.uuid4()),
        "post_id": str(uuid.uuid4()),
        "seq": 1,
        "body": {"type": "text", "text": f"{TYPICAL_BODY}{marker}"},
        "created_at": now,
        "edited_at": None,
        "expires_at": now,
    }
    event_id = f"{time.time_ns() // 1000}-{uuid.uuid4().hex}"
    return chunk(
        b"id: %s\nevent: post\ndata: %s\n\n" % (event_id.encode(), json.dumps(data).encode())
    )


class Streams:
    """The open streams of this process."""

    def __init__(self) -> None:
        self.open: set[asyncio.Transport] = set()

    def broadcast(self, wire: bytes) -> int:
        written = 0
        for transport in list(self.open):
            if transport.get_write_buffer_size() > WRITE_BUFFER_MAX:
                self.open.discard(transport)
                transport.abort()
                continue
            transport.write(wire)
            written += 1
        return written


class StreamProtocol(asyncio.Protocol):
    """Waits for the end of a request head, answers it, then only holds the stream."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self.head = b""
        self.started = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self.started or self.transport is None:
            return  # an SSE client sends nothing after its request
        self.head += data
        if b"\r\n\r\n" in self.head:
            self.head, self.started = b"", True
            self.transport.write(RESPONSE_HEAD + chunk(b"retry: 3000\nid: 0\n\n"))
            self.streams.open.add(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.streams.open.discard(self.transport)


class ControlProtocol(asyncio.Protocol):
    """`BROADCAST <marker>` / `COUNT` lines, each answered `OK <n>`."""

    def __init__(self, streams: Streams) -> None:
        self.streams = streams
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\n" in self.buffer and self.transport is not None:
            line, self.buffer = self.buffer.split(b"\n", 1)
            verb, _, arg = line.decode().partition(" ")
            if verb == "BROADCAST":
                n = self.streams.broadcast(event_frame(arg))
            else:
                n = len(self.streams.open)
            self.transport.write(b"OK %d\n" % n)


async def serve(port: int, control: int, reuse_port: bool) -> None:
    loop = asyncio.get_running_loop()
    streams = Streams()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    server = await loop.create_server(
        lambda: StreamProtocol(streams), sock=listener, backlog=LISTEN_BACKLOG
    )
    controller = await loop.create_server(lambda: ControlProtocol(streams), "127.0.0.1", control)
    async with server, controller:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--reuse-port", action="store_true")
    args = parser.parse_args()
    uvloop.run(serve(args.port, args.control, args.reuse_port))


if __name__ == "__main__":
    main()
