"""SSE client processes that hold the streams and time an event's arrival on each.

Streams are held by several processes (`Clients`), each on uvloop with raw protocols
(no HTTP or SSE library: a stream is a socket scanned for the awaited marker), so that
the clients are never what limits the measurement — their CPU is reported to show it.
A process may hold only as many sockets as its open-file limit allows, hence
`processes_for`. Every process gets its share of the prepared requests once and replays
them against whatever server the benchmark points it at (Herald's feed, or the bare
broadcaster, which ignores the headers), so both are measured with identical clients.
CLOCK_MONOTONIC is one clock for every process of the machine: arrival times compare
with the runner's send time.

Only 127.0.0.1 is ever connected to; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import resource
import socket
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

import uvloop

# Sockets per client process, below the usual open-file limit with room to spare.
STREAMS_PER_PROCESS = 8_000
OPEN_CONCURRENCY = 1_000  # connects in flight per process (the server's backlog is 16 k)
STATUS_TIMEOUT_S = 30.0  # a stream whose response head has not come by then failed
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST
# Linux's IP_BIND_ADDRESS_NO_PORT (Python names it from 3.12 only): bind an address now,
# the port at connect, where it only has to be unique for the connection's 4-tuple.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def processes_for(streams: int) -> int:
    """At least 2 processes, more when one could not hold its share of sockets."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_process = min(STREAMS_PER_PROCESS, max(100, soft - 200))
    return max(2, math.ceil(streams / per_process))


class _Stream(asyncio.Protocol):
    """One held-open stream: notes when the awaited marker first shows up in its bytes."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.status: asyncio.Future[bytes] = client.loop.create_future()
        self.head = b""
        self.tail = b""
        self.transport: asyncio.Transport | None = None
        self.arrived: float | None = None
        self.marker: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if not self.status.done():
            self.head += data
            if b"\r\n" in self.head:
                self.status.set_result(self.head.split(b"\r\n", 1)[0])
        marker = self.client.marker
        if marker is None or self.marker == marker:
            return
        # The marker may straddle two reads: keep its length's worth of the last one.
        window = self.tail + data
        if marker in window:
            self.marker = marker
            self.arrived = time.monotonic()
            self.client.one_arrived()
            self.tail = b""
        else:
            self.tail = window[-len(marker) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_result(b"closed")
        self.transport = None


class _Client:
    """The streams of one client process."""

    def __init__(self, requests: list[bytes], source: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.requests = requests
        self.source = source
        self.streams: list[_Stream] = []
        self.next_request = 0
        self.refused: dict[str, int] = {}
        self.marker: bytes | None = None
        self.waiting = 0
        self.all_arrived = asyncio.Event()

    def one_arrived(self) -> None:
        self.waiting -= 1
        if self.waiting <= 0:
            self.all_arrived.set()

    def socket(self) -> socket.socket:
        """A non-blocking TCP socket from this process's own loopback address, its port
        picked at connect (IP_BIND_ADDRESS_NO_PORT). Why: the kernel picks a connecting
        socket's port among ip_local_port_range, preferring even ports; with ~20 k
        connections from one address to one server address the even half runs out and
        every connect scans it first, so the opens crawl in the clients' kernel (20 k
        streams to the bare broadcaster took 9 s, 10 k took 1.3 s). Each client process
        connecting from its own 127.0.0.x gets a port range of its own."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((self.source, 0))
        return sock

    def _refused(self, why: str) -> None:
        self.refused[why] = self.refused.get(why, 0) + 1

    async def open(self, port: int, upto: int) -> None:
        """Open streams on `port` for this process's next requests, until `upto` of its
        requests have been opened (one stream each)."""
        start = self.next_request
        self.next_request = max(start, min(len(self.requests), upto))
        sem = asyncio.Semaphore(OPEN_CONCURRENCY)

        async def one(request: bytes) -> None:
            async with sem:
                try:
                    sock = self.socket()
                    try:
                        await self.loop.sock_connect(sock, ("127.0.0.1", port))
                        _, stream = await self.loop.create_connection(
                            lambda: _Stream(self), sock=sock
                        )
                    except BaseException:
                        sock.close()
                        raise
                except OSError as exc:
                    self._refused(type(exc).__name__)
                    return
                assert stream.transport is not None
                stream.transport.write(request)
                try:
                    status = await asyncio.wait_for(stream.status, STATUS_TIMEOUT_S)
                except TimeoutError:
                    status = b"no response"
                if b" 200 " in status:
                    self.streams.append(stream)
                else:
                    self._refused(status.decode(errors="replace")[:40])
                    if stream.transport is not None:
                        stream.transport.close()

        await asyncio.gather(*(one(r) for r in self.requests[start : self.next_request]))

    async def watch(self, marker: bytes, wait_s: float) -> list[float | None]:
        """Each open stream's arrival time of `marker` (None: not within `wait_s`)."""
        streams = [s for s in self.streams if s.transport is not None]
        for stream in self.streams:
            stream.arrived, stream.tail = None, b""
        self.waiting = len(streams)
        self.all_arrived.clear()
        if not streams:
            self.all_arrived.set()
        self.marker = marker
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_arrived.wait(), wait_s)
        self.marker = None
        # A stream whose connection dropped is not in `streams`: the runner counts it lost.
        return [s.arrived for s in streams]

    def close(self) -> None:
        """Reset every stream (RST, not FIN): a closing client would otherwise keep each
        socket's local port in TIME_WAIT for a minute, and with tens of thousands of
        those the kernel's search for a free port makes the next size's connects crawl
        — the open time measured would be the clients' own."""
        for stream in self.streams:
            if stream.transport is not None:
                sock = stream.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                stream.transport.abort()
        self.streams, self.next_request, self.refused = [], 0, {}


def _process(requests: list[bytes], source: str, pipe: Connection) -> None:
    uvloop.run(_serve(requests, source, pipe))


async def _serve(requests: list[bytes], source: str, pipe: Connection) -> None:
    """Answer the runner's commands, one at a time, until `exit`."""
    loop = asyncio.get_running_loop()
    client = _Client(requests, source)
    pipe.send(("ready",))
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        cpu = time.process_time()
        if command[0] == "open":
            _, port, upto = command
            await client.open(port, upto)
            opened = sum(1 for s in client.streams if s.transport is not None)
            pipe.send(("opened", time.monotonic(), opened, client.refused, cpu_since(cpu)))
        elif command[0] == "watch":
            _, marker, wait_s = command
            watching = asyncio.create_task(client.watch(marker, wait_s))
            await asyncio.sleep(0)  # the marker is armed before the runner is told
            pipe.send(("watching",))
            arrivals = await watching
            pipe.send(("arrivals", arrivals, cpu_since(cpu)))
        elif command[0] == "close":
            client.close()
            await asyncio.sleep(0.1)  # let the closes go out before answering
            pipe.send(("closed",))
        else:
            client.close()
            pipe.send(("exited",))
            return


def source_address(process: int) -> str:
    """The loopback address client process `process` connects from (127.0.0.2, …)."""
    return f"127.0.0.{2 + process}"


def share(total: int, process: int, processes: int) -> int:
    """How many of the first `total` requests process `process` of `processes` holds
    (requests are dealt round-robin)."""
    return max(0, (total - process + processes - 1) // processes)


def cpu_since(before: float) -> float:
    return time.process_time() - before


class Clients:
    """`processes` client processes sharing `requests` round-robin.

    Each command goes to every process; the answers come back in process order. Use as
    an async context manager: the processes are ended (joined, killed if stuck) on exit.
    """

    def __init__(self, requests: list[bytes], processes: int) -> None:
        self.requests = requests
        self.count = processes
        self.pipes: list[Connection] = []
        self.children: list[Any] = []

    async def __aenter__(self) -> Clients:
        ctx = mp.get_context("spawn")
        for i in range(self.count):
            mine, theirs = ctx.Pipe()
            child = ctx.Process(
                target=_process, args=(self.requests[i :: self.count], source_address(i), theirs)
            )
            child.start()
            self.pipes.append(mine)
            self.children.append(child)
        await self._replies()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("exit",))
        for child in self.children:
            await asyncio.get_running_loop().run_in_executor(None, child.join, 10)
            if child.is_alive():
                child.kill()
                child.join(5)

    async def _replies(self) -> list[Any]:
        loop = asyncio.get_running_loop()
        return [await loop.run_in_executor(None, pipe.recv) for pipe in self.pipes]

    async def ask(self, *command: Any) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(command)
        return await self._replies()

    async def open(self, port: int, total: int) -> list[Any]:
        """Open streams on `port` until `total` are open in all (the first `total`
        requests); each process's ("opened", finished_at, open_now, refused, cpu_s)."""
        for i, pipe in enumerate(self.pipes):
            pipe.send(("open", port, share(total, i, self.count)))
        return await self._replies()

    async def arm(self, marker: str, wait_s: float) -> None:
        """Every process watches for `marker` from now on (for up to `wait_s`)."""
        await self.ask("watch", marker.encode(), wait_s)

    async def arrivals(self) -> list[Any]:
        """After `arm`: each process's ("arrivals", times, cpu_s)."""
        return await self._replies()

    async def close(self) -> None:
        await self.ask("close")
