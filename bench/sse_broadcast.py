"""Benchmark: one post published to N open SSE streams — every stream accounted for,
against a bare broadcaster measured in the same run with the same clients.

Herald side: a stack slice with a publisher, a fan-out and a feed; one channel that N
accounts follow (rows written with SQL: this measures streams, not follows); one
`GET /v1/stream` per account, held by client processes (`bench.sse.clients`: at least
2, uvloop and raw protocols, their CPU reported so they can be shown not to be the
bottleneck). Each round publishes one post through the publisher (`POST …/posts`) and
times, on every stream, the `POST` → arrival of the post's event (publisher → Kafka →
fan-out → live topic → feed hub → socket). One unmeasured warm-up round, then ROUNDS
measured ones, each with its own p50/p99/max.

Baseline side: `bench.sse.baseline` (raw asyncio on uvloop, one pre-encoded frame
written to every stream, no auth, no Kafka, its own process), opened and broadcast to
by the same client processes with the same requests and stream counts. Herald's cost
over the bare broadcast is each check's note and the curves in the plot.

Every stream is accounted for (`bench.sse.accounting`): a stream that did not open,
dropped, or did not get a round's event within DEADLINE_S is a failure of that size's
checks, not a missing sample. Also measured: the time to open all N streams, the
server's RSS growth per stream (over the last nine tenths opened: the first tenth warms
pools and caches), the server's and the clients' CPU.

Sizes: 100, 1,000 and 10,000 streams on one feed process, and WORKER_STREAMS over the
feed workers of the machine (`HERALD_FEED_WORKERS`; the bare broadcaster then runs as
as many processes on one port). Quick mode: 100 and 1,000 only. Targets (DESIGN.md):
every size all delivered every round; 100: p50 ≤ 60 ms; 10,000 on one process: the
slowest round's p99 ≤ 350 ms, ≤ 15 KiB RSS per stream, opened in ≤ 10 s.

Usage: python -m bench.run --only sse_broadcast [--quick]
Everything stays on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx
import psutil

from bench.harness import Context, Record
from bench.sse.accounting import (
    Round,
    SizeRun,
    compare,
    not_measured,
    result,
    tally,
    verdicts,
)
from bench.sse.clients import Clients, processes_for
from tests.support.processes import ROOT, ServiceProcess, free_port
from tests.support.stack import StackSlice
from tests.support.tokens import token_for

FULL_SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)
WORKER_STREAMS = 20_000
ROUNDS = 3
FRESH_FEED_STREAMS = 10_000  # from this size on, a fresh feed: its memory is judged
DEADLINE_S = 5.0  # an event not on a stream by then is a failure
LATE_GRACE_S = 5.0  # how long after the deadline a late event is still told from a lost one
# Pauses (halved in quick mode): after the first tenth opened, after all (memory is read
# once allocations are done and buffers sent), and between rounds.
WARM_PAUSE_S = 1.0
SETTLE_S = 2.0
BETWEEN_ROUNDS_S = 1.0
FULL_BUDGET_S = 420.0
QUICK_BUDGET_S = 90.0


@dataclass
class Side:
    """A server the clients hold streams on: how to read its memory and CPU, and how to
    broadcast one event carrying a marker to every stream."""

    label: str
    port: int
    pids: Callable[[], list[int]]
    publish: Callable[[str], Awaitable[None]]
    baseline: bool = False
    workers: int = 1
    stop: Callable[[], None] = field(default=lambda: None)

    def _processes(self) -> list[psutil.Process]:
        found: list[psutil.Process] = []
        for pid in self.pids():
            with contextlib.suppress(psutil.Error):
                top = psutil.Process(pid)
                found += [top, *top.children(recursive=True)]
        return found

    def rss(self) -> int:
        total = 0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def cpu_s(self) -> float:
        total = 0.0
        for process in self._processes():
            with contextlib.suppress(psutil.Error):
                total += sum(process.cpu_times()[:2])
        return total


# --- the bare broadcaster's processes ---------------------------------------------------


def _spawn_bare(port: int, control: int, reuse_port: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.sse.baseline", "--port", str(port), "--control", str(control)]
        + (["--reuse-port"] if reuse_port else []),
        cwd=ROOT,
    )


async def start_bare(workers: int) -> Side:
    """`workers` bare broadcaster processes on one stream port, each with a control port."""
    port = free_port()
    controls = [free_port() for _ in range(workers)]
    procs = [_spawn_bare(port, c, reuse_port=workers > 1) for c in controls]
    links: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    deadline = time.monotonic() + 30.0
    for control in controls:
        while True:
            try:
                links.append(await asyncio.open_connection("127.0.0.1", control))
                break
            except OSError:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    for p in procs:
                        p.kill()
                    raise RuntimeError("the bare broadcaster did not start") from None
                await asyncio.sleep(0.1)

    async def publish(marker: str) -> None:
        for _, writer in links:
            writer.write(f"BROADCAST {marker}\n".encode())
        for reader, _ in links:
            await asyncio.wait_for(reader.readline(), DEADLINE_S)

    def stop() -> None:
        for _, writer in links:
            writer.close()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)

    return Side(
        label="bare broadcaster, " + ("one process" if workers == 1 else f"{workers} processes"),
        port=port,
        pids=lambda: [p.pid for p in procs],
        publish=publish,
        baseline=True,
        workers=workers,
        stop=stop,
    )


# --- Herald ------------------------------------------------------------------------------


async def followed_channel(stack: StackSlice, publisher: ServiceProcess, accounts: int) -> str:
    """A channel created through the publisher that `sse-1`…`sse-<accounts>` follow."""
    headers = {"Authorization": f"Bearer {token_for('sse-owner')}"}
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
        created = await http.post(
            "/v1/channels",
            headers=headers,
            json={
                "handle": f"sse_{uuid.uuid4().hex[:8]}",
                "name": "SSE broadcast",
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
               SELECT 'sse-' || i, $1, true FROM generate_series(1, $2::int) i""",
            uuid.UUID(channel_id),
            accounts,
        )
        await conn.execute("ANALYZE follows")
    finally:
        await conn.close()
    return channel_id


def herald_side(
    feed: ServiceProcess, http: httpx.AsyncClient, channel_id: str, workers: int
) -> Side:
    headers = {"Authorization": f"Bearer {token_for('sse-owner')}"}

    async def publish(marker: str) -> None:
        posted = await http.post(
            f"/v1/channels/{channel_id}/posts",
            headers=headers,
            json={"type": "text", "text": marker},
        )
        posted.raise_for_status()

    label = "Herald feed, one process" if workers == 1 else f"Herald feed, {workers} workers"
    return Side(
        label=label,
        port=feed.port,
        pids=lambda: [feed.proc.pid] if feed.proc is not None else [],
        publish=publish,
        workers=workers,
        stop=lambda: feed.stop(timeout_s=60),
    )


def workers_available() -> bool:
    """Whether this tree's feed can run several worker processes on one port."""
    return importlib.util.find_spec("services.feed.workers") is not None


def feed_workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


# --- measuring one side at one size -----------------------------------------------------


async def broadcast_round(side: Side, clients: Clients, streams: int) -> tuple[Round, float]:
    """One event to every stream: its round, and the busiest client's CPU seconds."""
    marker = f"sse-{uuid.uuid4().hex}"
    await clients.arm(marker, DEADLINE_S + LATE_GRACE_S)
    sent = time.monotonic()
    await side.publish(marker)
    replies = await clients.arrivals()
    arrivals = [at for reply in replies for at in reply[1]]
    return tally(sent, arrivals, streams, DEADLINE_S), max(reply[2] for reply in replies)


async def measure(
    side: Side, clients: Clients, streams: int, log: Callable[[str], None], pace: float = 1.0
) -> SizeRun:
    """Open `streams` on `side` (a tenth, then the rest), read its memory, then an
    unmeasured warm-up round and ROUNDS measured ones; close the streams. `pace` scales
    the pauses."""
    load = psutil.getloadavg()[0]
    cpu_before = side.cpu_s()
    # A first tenth, then the rest: memory per stream is measured over the rest.
    began = time.monotonic()
    warmed = await clients.open(side.port, max(1, streams // 10))
    warm_s = max(o[1] for o in warmed) - began
    await asyncio.sleep(WARM_PAUSE_S * pace)
    rss_warm = side.rss()
    warm_open = sum(o[2] for o in warmed)
    began = time.monotonic()
    opened = await clients.open(side.port, streams)
    open_s = warm_s + max(o[1] for o in opened) - began
    server_open_cpu = side.cpu_s() - cpu_before
    open_now = sum(o[2] for o in opened)
    refused: dict[str, int] = {}
    for o in (*warmed, *opened):
        for why, count in o[3].items():
            refused[why] = refused.get(why, 0) + count
    # Each client's share of one core while opening (its CPU over the open's wall time).
    client_share = max(
        (w[4] + o[4]) / max(open_s, 1e-3) for w, o in zip(warmed, opened, strict=True)
    )
    await asyncio.sleep(SETTLE_S * pace)
    kib = (side.rss() - rss_warm) / max(1, open_now - warm_open) / 1024
    log(
        f"{side.label}: {open_now:,}/{streams:,} streams open in {open_s:.2f} s, "
        f"{kib:.1f} KiB each, server CPU {server_open_cpu:.1f} s, busiest client "
        f"{client_share:.0%} of a core" + (f", refused {refused}" if refused else "")
    )
    warmup, _ = await broadcast_round(side, clients, streams)
    rounds: list[Round] = []
    client_cpu = 0.0
    for i in range(ROUNDS):
        await asyncio.sleep(BETWEEN_ROUNDS_S * pace)
        round_, cpu = await broadcast_round(side, clients, streams)
        rounds.append(round_)
        client_cpu = max(client_cpu, cpu)
        log(
            f"  round {i + 1}: {round_.delivered:,}/{streams:,} on time, "
            f"p50 {round_.figure(50):.0f} ms, p99 {round_.figure(99):.0f} ms, "
            f"max {round_.figure(100):.0f} ms, late {round_.late}, lost {round_.lost}"
        )
    await clients.close()
    return SizeRun(
        label=side.label,
        streams=streams,
        opened=open_now,
        open_s=open_s,
        kib_per_stream=kib,
        rounds=rounds,
        warmup=warmup,
        baseline=side.baseline,
        extra={
            "server_cpu_open_s": server_open_cpu,
            "client_processes": clients.count,
            "client_core_share_open_max": client_share,
            "client_cpu_ms_per_round_max": client_cpu * 1000,
            "load_average_at_start": load,
            "refused": sum(refused.values()),
        },
    )


# --- the benchmark ----------------------------------------------------------------------


async def benchmark(ctx: Context, quick: bool) -> list[Record]:
    """`bench.run` entry point (bench.harness convention)."""
    sizes = [(n, 1) for n in (QUICK_SIZES if quick else FULL_SIZES)]
    records: list[Record] = []
    if not quick:
        if workers_available():
            sizes.append((WORKER_STREAMS, feed_workers()))
        else:
            why = "this tree's feed has no HERALD_FEED_WORKERS (services/feed/workers.py)"
            ctx.log(f"{WORKER_STREAMS:,} streams over feed workers {why}")
            records.append(not_measured("Herald feed, workers", WORKER_STREAMS, why))
    most = max(n for n, _ in sizes)
    stack = await ctx.stack()
    publisher, _, feed = await asyncio.gather(
        ctx.service("publisher", stack),
        ctx.service("fanout", stack),
        start_feed(ctx, stack, sizes, 1),
    )
    channel_id = await followed_channel(stack, publisher, most)
    requests = [
        (
            "GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token_for(f'sse-{i}', ttl_s=3600)}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        for i in range(1, most + 1)
    ]
    ctx.log(f"publisher, fan-out and feed ready, {most:,} followers")
    pace = 0.5 if quick else 1.0
    herald: Side | None = None
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http,
        Clients(requests, processes_for(most)) as clients,
    ):
        try:
            for streams, workers in sizes:
                bare = await start_bare(workers)
                try:
                    bare_run = await measure(bare, clients, streams, ctx.log, pace)
                finally:
                    bare.stop()
                # One feed process serves the small sizes (a fresh one per size would cost
                # seconds each); the sizes whose memory is judged get a fresh one, so
                # that no closed streams' freed memory is reused. Workers get their own.
                if herald is None:
                    herald = herald_side(feed, http, channel_id, 1)
                elif herald.workers != workers or streams >= FRESH_FEED_STREAMS:
                    herald.stop()
                    fresh = await start_feed(ctx, stack, sizes, workers)
                    herald = herald_side(fresh, http, channel_id, workers)
                herald_run = await measure(herald, clients, streams, ctx.log, pace)
                subject, baseline = result(herald_run, workers), result(bare_run, workers)
                compare(subject, baseline)
                records += [baseline, subject, *verdicts(subject, baseline, quick)]
        finally:
            if herald is not None:
                herald.stop()
    return records


async def start_feed(
    ctx: Context, stack: StackSlice, sizes: list[tuple[int, int]], workers: int
) -> ServiceProcess:
    """A feed (of `workers` processes) allowed the most streams its sizes open."""
    most = max(n for n, w in sizes if w == workers)
    env = {"HERALD_FEED_SSE_MAX_CONNECTIONS": str(most + 100)}
    if workers > 1:
        env["HERALD_FEED_WORKERS"] = str(workers)
    feed = await ctx.service("feed", stack, **env)
    if workers > 1:
        await wait_workers_listening(feed, workers)
    return feed


def listening_workers(feed: ServiceProcess) -> int:
    """How many processes under the feed's supervisor listen on its port."""
    if feed.proc is None:
        return 0
    count = 0
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(feed.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(
                    c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == feed.port
                    for c in child.net_connections(kind="tcp")
                ):
                    count += 1
    return count


async def wait_workers_listening(feed: ServiceProcess, workers: int, timeout_s: float = 60) -> None:
    """Ready means one worker answers: wait until every worker takes connections, or the
    kernel would spread the streams over fewer processes than measured for."""
    deadline = time.monotonic() + timeout_s
    while (found := listening_workers(feed)) < workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{found} of {workers} feed workers listening")
        await asyncio.sleep(0.2)
