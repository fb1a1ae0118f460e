"""SSE probe: open N streams on one feed process, then time posts to every stream.

Not part of the bench suite (yet): a measuring tool for the broadcast path. It creates
its own stack slice (database + topic namespace), starts a publisher, a fan-out and one
feed process, makes N accounts follow one channel (rows written with SQL: this measures
streams, not follows), and opens one `GET /v1/stream` per account from `--processes`
client processes (raw asyncio protocols, so a client is never the bottleneck; a process
may hold only as many sockets as its file limit allows). Then, for each of `--posts`
posts published through the publisher, it times the `POST` to the moment each stream
received the post's `data:` line (CLOCK_MONOTONIC is one clock for every process).

Figures printed (and written as JSON with `--json`): open time of all streams, feed
RSS growth per open stream (after the opens, minus before, divided by N), and the
publish → stream latency p50/p99/max with the count of streams that missed a post. RSS
per stream is the growth while the last nine tenths open (the first tenth warms pools
and caches), and, for comparison, over all streams.

Usage: python -m bench.sse_probe --streams 10000 [--processes 2] [--posts 3]
       [--open-concurrency 1000] [--timeout 20] [--rounds 1] [--fanout-write-max N]
       [--json OUT] [--profile FEED.prof] [--logs DIR] [--path /v1/stream]
Everything stays on 127.0.0.1; every wait is bounded by `--timeout`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import uvloop

from tests.support.processes import ROOT, ServiceProcess
from tests.support.stack import StackSlice, create_test_stack, destroy_test_stack
from tests.support.tokens import token_for


class _ProfiledProcess(ServiceProcess):
    """A service process run under cProfile (the profile is written when it stops)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, out: Path) -> None:
        super().__init__(name, env, log_dir)
        self.out = out

    def spawn(self) -> None:
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cProfile", "-o", str(self.out), "-m", f"services.{self.name}"],
            env=self.env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    def stop(self, timeout_s: float = 15.0) -> None:
        # SIGINT: uvicorn re-raises the signal it handled, and only KeyboardInterrupt
        # (not a SIGTERM death) lets cProfile write its file.
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout_s)
        super().stop(timeout_s)


class _Stream(asyncio.Protocol):
    """One held-open stream: notes when the awaited marker first shows up in its bytes."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.status: asyncio.Future[bytes] = client.loop.create_future()
        self.head = b""
        self.tail = b""
        self.transport: asyncio.Transport | None = None
        self.seen_marker: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if not self.status.done():
            self.head += data
            if b"\r\n" in self.head:
                self.status.set_result(self.head.split(b"\r\n", 1)[0])
        marker = self.client.marker
        if marker is None or self.seen_marker == marker:
            return
        window = self.tail + data
        if marker in window:
            self.seen_marker = marker
            self.client.arrived(time.monotonic())
        self.tail = window[-len(marker) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.status.done():
            self.status.set_result(b"closed")
        self.client.lost += 1


class _Client:
    """The streams of one client process."""

    def __init__(self, port: int, accounts: list[str], concurrency: int, path: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.port = port
        self.requests = [
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token_for(a, ttl_s=3600)}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
            for a in accounts
        ]
        self.concurrency = concurrency
        self.streams: list[_Stream] = []
        self.marker: bytes | None = None
        self.arrivals: list[float] = []
        self.all_seen = asyncio.Event()
        self.lost = 0
        self.refused: dict[str, int] = {}
        self.open_times: list[float] = []
        self.next_request = 0

    def arrived(self, at: float) -> None:
        self.arrivals.append(at)
        if len(self.arrivals) >= len(self.streams):
            self.all_seen.set()

    async def open_next(self, count: int) -> None:
        """Open the next `count` streams of this client's accounts."""
        start = self.next_request
        self.next_request = min(len(self.requests), start + count)
        batch = self.requests[start : self.next_request]
        sem = asyncio.Semaphore(self.concurrency)

        async def one(request: bytes) -> None:
            async with sem:
                began = time.monotonic()
                try:
                    _, stream = await self.loop.create_connection(
                        lambda: _Stream(self), "127.0.0.1", self.port
                    )
                except OSError as exc:
                    self.refused[type(exc).__name__] = self.refused.get(type(exc).__name__, 0) + 1
                    return
                assert stream.transport is not None
                stream.transport.write(request)
                status = await stream.status
                if b" 200 " in status:
                    self.streams.append(stream)
                    self.open_times.append(time.monotonic() - began)
                else:
                    key = status.decode(errors="replace")[:40]
                    self.refused[key] = self.refused.get(key, 0) + 1
                    stream.transport.close()

        await asyncio.gather(*(one(r) for r in batch))

    async def watch(self, marker: str, timeout_s: float) -> list[float]:
        self.arrivals = []
        self.all_seen.clear()
        self.marker = marker.encode()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_seen.wait(), timeout_s)
        return self.arrivals


def _client_process(
    port: int, accounts: list[str], concurrency: int, path: str, pipe: Connection
) -> None:
    uvloop.run(_client_main(port, accounts, concurrency, path, pipe))


async def _client_main(
    port: int, accounts: list[str], concurrency: int, path: str, pipe: Connection
) -> None:
    loop = asyncio.get_running_loop()
    client = _Client(port, accounts, concurrency, path)
    pipe.send(("ready",))
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command[0] == "open":
            await client.open_next(command[1])
            pipe.send(
                (
                    "opened",
                    time.monotonic(),
                    len(client.streams),
                    client.refused,
                    client.open_times,
                    time.process_time(),
                )
            )
        elif command[0] == "watch":
            _, marker, timeout_s = command
            watching = asyncio.create_task(client.watch(marker, timeout_s))
            await asyncio.sleep(0)
            pipe.send(("watching",))
            arrivals = await watching
            pipe.send(("arrivals", arrivals, len(client.streams), client.lost))
        elif command[0] == "reset":
            # Close every stream; the next "open" starts over with the same accounts.
            for stream in client.streams:
                if stream.transport is not None:
                    stream.transport.close()
            client.streams, client.open_times, client.next_request = [], [], 0
            pipe.send(("reset",))
        else:
            for stream in client.streams:
                if stream.transport is not None:
                    stream.transport.close()
            pipe.send(("closed",))
            return


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds used so far by each Postgres server process of this machine."""
    used: dict[int, float] = {}
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            with contextlib.suppress(psutil.Error):
                used[process.pid] = sum(process.cpu_times()[:2])
    return used


def _postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds Postgres processes used since `before` (processes gone are left out)."""
    return sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in _postgres_cpu().items())


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _channel_with_followers(stack: StackSlice, publisher: ServiceProcess, n: int) -> str:
    headers = {"Authorization": f"Bearer {token_for('probe-owner')}"}
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
        created = await http.post(
            "/v1/channels",
            headers=headers,
            json={
                "handle": f"probe_{uuid.uuid4().hex[:8]}",
                "name": "SSE probe",
                "category": "news",
                "country": "FR",
                "language": "fr",
            },
        )
        created.raise_for_status()
    channel_id: str = created.json()["channel_id"]
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            """INSERT INTO follows (account_id, channel_id, counted_active)
               SELECT 'probe-' || i, $1, true FROM generate_series(1, $2::int) i""",
            uuid.UUID(channel_id),
            n,
        )
        await conn.execute("ANALYZE follows")
    finally:
        await conn.close()
    return channel_id


async def probe(a: argparse.Namespace, stack: StackSlice, logs: Path) -> dict[str, Any]:
    services: list[ServiceProcess] = []

    async def start(name: str, **env: str) -> ServiceProcess:
        process = (
            _ProfiledProcess(name, stack.env(**env), logs, a.profile)
            if name == "feed" and a.profile is not None
            else ServiceProcess(name, stack.env(**env), logs)
        )
        services.append(process)
        return await process.start()

    ctx = mp.get_context("spawn")
    pipes: list[Connection] = []
    children: list[Any] = []
    try:
        publisher = await start("publisher")
        fanout_env = (
            {"HERALD_FANOUT_WRITE_MAX_FOLLOWERS": str(a.fanout_write_max)}
            if a.fanout_write_max is not None
            else {}
        )
        await start("fanout", **fanout_env)
        feed = await start(
            "feed",
            HERALD_FEED_SSE_MAX_CONNECTIONS=str(a.streams + 100),
            HERALD_LOG_LEVEL="WARNING",
        )
        channel_id = await _channel_with_followers(stack, publisher, a.streams)
        accounts = [f"probe-{i}" for i in range(1, a.streams + 1)]
        for i in range(a.processes):
            mine, theirs = ctx.Pipe()
            child = ctx.Process(
                target=_client_process,
                args=(feed.port, accounts[i :: a.processes], a.open_concurrency, a.path, theirs),
            )
            child.start()
            pipes.append(mine)
            children.append(child)
        loop = asyncio.get_running_loop()

        async def ask_all(command: tuple[Any, ...]) -> list[Any]:
            for pipe in pipes:
                pipe.send(command)
            return [await loop.run_in_executor(None, pipe.recv) for pipe in pipes]

        for pipe in pipes:
            await loop.run_in_executor(None, pipe.recv)  # tokens minted
        assert feed.proc is not None
        server = psutil.Process(feed.proc.pid)
        rss_before = server.memory_info().rss
        cpu_before = sum(server.cpu_times()[:2])
        pg_before = _postgres_cpu()
        load_before = psutil.getloadavg()[0]
        # A first tenth, then the rest: memory per stream is measured over the rest, so
        # what the first streams warm up (pool connections, caches) is not counted.
        warm_per_client = max(1, a.streams // 10 // a.processes)
        started = time.monotonic()
        warmed = await ask_all(("open", warm_per_client))
        warm_s = max(o[1] for o in warmed) - started
        await asyncio.sleep(1.0)
        rss_warm = server.memory_info().rss
        warm_streams = sum(o[2] for o in warmed)
        started = time.monotonic()
        opened = await ask_all(("open", a.streams))

        open_s = warm_s + max(o[1] for o in opened) - started
        open_cpu_s = sum(server.cpu_times()[:2]) - cpu_before
        open_pg_cpu_s = _postgres_cpu_since(pg_before)
        clients_cpu_s = sum(o[5] for o in opened)
        streams = sum(o[2] for o in opened)
        refused: dict[str, int] = {}
        each = [t for o in opened for t in o[4]]
        print(
            f"one open: p50 {_percentile(each, 50) * 1000:.0f} ms, "
            f"p99 {_percentile(each, 99) * 1000:.0f} ms, max {max(each, default=0) * 1000:.0f} ms",
            flush=True,
        )
        for o in opened:
            for k, v in o[3].items():
                refused[k] = refused.get(k, 0) + v
        await asyncio.sleep(2.0)
        rss_after = server.memory_info().rss
        per_stream = (rss_after - rss_warm) / max(1, streams - warm_streams)
        whole_per_stream = (rss_after - rss_before) / max(1, streams)
        print(
            f"{streams:,}/{a.streams:,} streams open in {open_s:.2f} s, "
            f"{per_stream / 1024:.1f} KiB feed RSS each after the first tenth "
            f"({whole_per_stream / 1024:.1f} KiB over all), feed CPU {open_cpu_s:.2f} s, "
            f"Postgres CPU {open_pg_cpu_s:.2f} s, clients CPU {clients_cpu_s:.2f} s, "
            f"load average {load_before:.1f} at start, "
            f"refused {refused}",
            flush=True,
        )
        latencies: list[float] = []
        missed = 0
        headers = {"Authorization": f"Bearer {token_for('probe-owner')}"}
        async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
            for i in range(a.posts):
                marker = f"probe-{i}-{uuid.uuid4().hex[:12]}"
                for pipe in pipes:
                    pipe.send(("watch", marker, a.timeout))
                for pipe in pipes:
                    await loop.run_in_executor(None, pipe.recv)
                sent = time.monotonic()
                posted = await http.post(
                    f"/v1/channels/{channel_id}/posts",
                    headers=headers,
                    json={"type": "text", "text": marker},
                )
                posted.raise_for_status()
                got: list[float] = []
                for pipe in pipes:
                    reply = await loop.run_in_executor(None, pipe.recv)
                    got.extend(t - sent for t in reply[1])
                missed += streams - len(got)
                latencies.extend(got)
                print(
                    f"post {i + 1}: {len(got):,}/{streams:,} streams, "
                    f"p50 {_percentile(got, 50) * 1000:.0f} ms, "
                    f"p99 {_percentile(got, 99) * 1000:.0f} ms, "
                    f"max {max(got, default=0) * 1000:.0f} ms",
                    flush=True,
                )
                await asyncio.sleep(1.0)
        reopen_s: list[float] = []
        for _ in range(a.rounds - 1):
            await ask_all(("reset",))
            await asyncio.sleep(3.0)
            started = time.monotonic()
            again = await ask_all(("open", a.streams))
            reopen_s.append(round(max(o[1] for o in again) - started, 3))
            print(f"re-opened {sum(o[2] for o in again):,} in {reopen_s[-1]:.2f} s", flush=True)
        await ask_all(("close",))
        return {
            "reopen_s": reopen_s,
            "streams": streams,
            "wanted": a.streams,
            "open_s": round(open_s, 3),
            "open_feed_cpu_s": round(open_cpu_s, 3),
            "open_postgres_cpu_s": round(open_pg_cpu_s, 3),
            "clients_cpu_s": round(clients_cpu_s, 3),
            "load_average_at_start": load_before,
            "kib_per_stream": round(per_stream / 1024, 2),
            "kib_per_stream_whole": round(whole_per_stream / 1024, 2),
            "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies, default=0) * 1000, 1),
            "missed": missed,
            "refused": refused,
        }
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
        for process in reversed(services):
            process.stop(timeout_s=60)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--posts", type=int, default=3)
    parser.add_argument("--open-concurrency", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--fanout-write-max",
        type=int,
        default=None,
        help="fan-out's HERALD_FANOUT_WRITE_MAX_FOLLOWERS (below --streams: no feed rows "
        "are written for the probe's channel, so the figure is the live path alone)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="close and re-open all streams this often - 1"
    )
    parser.add_argument("--logs", type=Path, default=None, help="keep service logs here")
    parser.add_argument("--path", default="/v1/stream", help="what the clients GET")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the feed to PATH")
    a = parser.parse_args()
    if not 1 <= a.streams <= 20_000 or not 1 <= a.processes <= 8:
        sys.exit("--streams must be 1..20000 and --processes 1..8")
    with tempfile.TemporaryDirectory(prefix="sse-probe-") as tmp:
        stack = await create_test_stack(tmp)
        try:
            result = await probe(a, stack, a.logs or Path(tmp))
        finally:
            await destroy_test_stack(stack)
    print(json.dumps(result), flush=True)
    if a.json is not None:
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
