"""SSE: idle connections one feed process holds, their memory, and broadcast latency.

One channel (created through the publisher), N accounts following it (rows written with
SQL: this measures streams, not follows), one `GET /v1/stream` per account held open by
a minimal client (raw asyncio streams, so the client side stays cheap) against one feed
process. Figures: the feed process's resident memory growth per open stream (psutil RSS
after all are open minus before, divided by N), the time to open them, and for POSTS
posts published through the publisher, the delay from the `POST` to the moment each
stream received the post's event (fan-out → live topic → feed hub → every stream).
Receipts are counted, not assumed: `streams` is the number of streams that received
every post's event, and each (stream, post) pair without a receipt within the wait is a
loss, which fails the latency check whatever the percentiles of the delivered ones.
Targets (DESIGN.md): ≥ 10 k idle connections per process at ≤ 50 KiB each; broadcast
p99 ≤ 1 s. Quick mode opens 1,000 streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import asyncpg
import httpx
import psutil

from bench.harness import Context, Record, Result, absolute, latency_summary
from tests.support.tokens import token_for

FULL_STREAMS = 10_000
QUICK_STREAMS = 1_000
OPEN_CONCURRENCY = 64
PATH = "SSE broadcast to idle streams"


class Broadcast:
    """One awaited marker: set `done` once every stream has seen it."""

    def __init__(self, marker: str, streams: int) -> None:
        self.marker = marker
        self.remaining = streams
        self.done = asyncio.Event()

    def seen_once(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self.done.set()


class Stream:
    """One held-open stream that notes when the awaited marker first appears in it."""

    def __init__(self, port: int, account: str) -> None:
        self.port = port
        self.account = account
        self.seen: dict[str, float] = {}
        self.wanted: Broadcast | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        token = token_for(self.account, ttl_s=3600)
        writer.write(
            f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while line := await reader.readline():
            wanted = self.wanted
            if (
                wanted is not None
                and line.startswith(b"data:")
                and wanted.marker in line.decode(errors="replace")
            ):
                self.seen[wanted.marker] = time.monotonic()
                self.wanted = None
                wanted.seen_once()

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()


async def open_all(port: int, accounts: list[str]) -> list[Stream]:
    streams = [Stream(port, a) for a in accounts]
    sem = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(s: Stream) -> None:
        async with sem:
            await s.open()

    await asyncio.gather(*(one(s) for s in streams))
    return streams


async def benchmark(ctx: Context, quick: bool) -> list[Record]:
    n = QUICK_STREAMS if quick else FULL_STREAMS
    posts = 2 if quick else 3
    stack = await ctx.stack()
    publisher = await ctx.service("publisher", stack)
    feed = await ctx.service(
        "feed", stack, HERALD_FEED_SSE_MAX_CONNECTIONS=str(n + 100), HERALD_DB_POOL_MAX="10"
    )
    await ctx.service("fanout", stack)
    owner = "sse-owner"
    headers = {"Authorization": f"Bearer {token_for(owner)}"}
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
        created = await http.post(
            "/v1/channels",
            headers=headers,
            json={
                "handle": f"sse_{uuid.uuid4().hex[:8]}",
                "name": "SSE",
                "category": "news",
                "country": "FR",
                "language": "fr",
            },
        )
        created.raise_for_status()
        channel_id = created.json()["channel_id"]
        conn = await asyncpg.connect(stack.database_url)
        try:
            await conn.execute(
                """INSERT INTO follows (account_id, channel_id, counted_active)
                   SELECT 'sse-' || i, $1, true FROM generate_series(1, $2::int) i""",
                uuid.UUID(channel_id),
                n,
            )
        finally:
            await conn.close()
        assert feed.proc is not None
        server = psutil.Process(feed.proc.pid)
        rss_before = server.memory_info().rss
        opened_at = time.monotonic()
        streams = await open_all(feed.port, [f"sse-{i}" for i in range(1, n + 1)])
        open_s = time.monotonic() - opened_at
        await asyncio.sleep(1.0)
        rss_per_stream = (server.memory_info().rss - rss_before) / n
        ctx.log(f"{n:,} streams open in {open_s:.1f} s, {rss_per_stream / 1024:.1f} KiB each")
        latencies: list[float] = []
        missed = 0
        markers: list[str] = []
        try:
            for i in range(posts):
                marker = f"broadcast-{i}-{uuid.uuid4().hex[:8]}"
                markers.append(marker)
                broadcast = Broadcast(marker, n)
                for s in streams:
                    s.wanted = broadcast
                sent = time.monotonic()
                r = await http.post(
                    f"/v1/channels/{channel_id}/posts",
                    headers=headers,
                    json={"type": "text", "text": marker},
                )
                r.raise_for_status()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(broadcast.done.wait(), timeout=10.0)
                got = [s.seen[marker] - sent for s in streams if marker in s.seen]
                latencies.extend(got)
                missed += n - len(got)
                ctx.log(
                    f"post {i + 1}: {len(got):,}/{n:,} streams, "
                    f"last after {max(got, default=0) * 1000:.0f} ms"
                )
        finally:
            for s in streams:
                s.close()
            with contextlib.suppress(Exception):
                await asyncio.gather(*(s.task for s in streams if s.task), return_exceptions=True)
    # Only a stream that received every post's event counts as held.
    delivered = sum(1 for s in streams if all(m in s.seen for m in markers))
    result = Result(
        bench="",
        path=PATH,
        label=f"{n:,} idle streams, one feed process",
        rate=n / open_s,
        unit="streams opened/s",
        latency_ms=latency_summary(latencies),
        values={
            "KiB_per_stream": rss_per_stream / 1024,
            "streams": delivered,
            "streams_opened": n,
            "posts": posts,
        },
        samples=len(latencies),
        errors=missed,
    )
    memory = absolute(result, "KiB_per_stream", "<=", 50, "KiB", note="feed RSS growth / streams")
    memory.losses = 0  # lost events say nothing about the memory an open stream holds
    return [
        result,
        memory,
        absolute(result, "p99", "<=", 1000, "ms", note="POST → event on every stream; losses fail"),
        absolute(
            result,
            "streams",
            ">=",
            10_000 if not quick else QUICK_STREAMS,
            "streams",
            note="streams that received every event; quick mode opens 1,000 only",
        ),
    ]
