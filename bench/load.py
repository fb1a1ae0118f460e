"""Load generator: many accounts driving publisher and feed over HTTP as real clients do.

Channels get their audience from a Zipf law (the channel of popularity rank r draws
followers in proportion to 1/r^ZIPF_S), so a few channels are large and most are small.
Setup (over the APIs, as clients would): CHANNELS channels created by their owners, one
post each, then every account follows FOLLOWS_PER_ACCOUNT Zipf-drawn channels. Then the
mix below runs closed-loop, split over `processes` worker processes of `concurrency`
connections each, until `duration` seconds or `max_requests` requests, whichever first,
with a progress line every PROGRESS_S. Loopback only.

As a benchmark (`benchmark`) it starts its own slice of the stack with publisher, feed and
fan-out; as a command it drives an already running stack:

    python -m bench.load --publisher http://127.0.0.1:8081 --feed http://127.0.0.1:8082 \\
        [--duration 30] [--max-requests 50000] [--accounts 1000] [--processes 2]

(the services' per-account rate limits apply then: raise HERALD_RATE_PER_SECOND for big runs).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import multiprocessing as mp
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil

from bench.harness import Context, Record, Result, latency_summary
from tests.support.processes import ServiceProcess
from tests.support.tokens import token_for

ZIPF_S = 1.1
FOLLOWS_PER_ACCOUNT = 5
PROGRESS_S = 2.0
IDLE_S = 2.0
# What clients do, by weight: reads dominate, writes are a few percent.
MIX = {
    "timeline": 30,
    "updates": 20,
    "history": 15,
    "reaction": 12,
    "views": 10,
    "follow": 5,
    "post": 3,
    "card": 5,
}
EMOJI = ["👍", "❤️", "😂", "😮", "🙏"]


@dataclass
class Plan:
    publisher: str
    feed: str
    channels: list[tuple[str, str]]  # (channel_id, owner account)
    accounts: int
    duration_s: float
    max_requests: int
    concurrency: int
    seed: int = 1
    weights: list[float] = field(default_factory=list)


def zipf_weights(n: int) -> list[float]:
    return [1 / (rank**ZIPF_S) for rank in range(1, n + 1)]


def bearer(account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(account, ttl_s=6 * 3600)}"}


class Client:
    """One worker process: `concurrency` simulated clients sharing one connection pool."""

    def __init__(self, plan: Plan, index: int, done: Any) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed * 1000 + index)
        self.index = index
        self.done = done
        self.cum = list(itertools.accumulate(plan.weights))
        self.ops = list(MIX)
        self.op_cum = list(itertools.accumulate(MIX.values()))
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.posts: list[str] = []  # post ids seen in reads, for reactions and views
        self.headers: dict[str, dict[str, str]] = {}

    def channel(self) -> tuple[str, str]:
        x = self.rng.random() * self.cum[-1]
        return self.plan.channels[bisect.bisect_left(self.cum, x)]

    def auth(self, account: str) -> dict[str, str]:
        if account not in self.headers:
            self.headers[account] = bearer(account)
        return self.headers[account]

    async def one(self, http: httpx.AsyncClient, op: str) -> httpx.Response:
        account = f"load-{self.rng.randrange(self.plan.accounts)}"
        h = self.auth(account)
        feed, pub = self.plan.feed, self.plan.publisher
        if op == "timeline":
            return await http.get(f"{feed}/v1/timeline?limit=20", headers=h)
        if op == "updates":
            return await http.get(f"{feed}/v1/updates?limit=50", headers=h)
        if op == "card":
            return await http.get(f"{feed}/v1/channels/{self.channel()[0]}")
        if op == "history":
            r = await http.get(f"{feed}/v1/channels/{self.channel()[0]}/posts?limit=20", headers=h)
            if r.status_code == 200:
                self.posts = ([p["post_id"] for p in r.json()["items"]] + self.posts)[:200]
            return r
        if op == "follow":
            return await http.put(f"{feed}/v1/channels/{self.channel()[0]}/follow", headers=h)
        if op == "post":
            channel_id, owner = self.channel()
            return await http.post(
                f"{pub}/v1/channels/{channel_id}/posts",
                headers=self.auth(owner),
                json={"type": "text", "text": f"update {uuid.uuid4().hex[:8]}"},
            )
        if not self.posts:
            return await self.one(http, "history")
        post_id = self.rng.choice(self.posts)
        if op == "reaction":
            return await http.put(
                f"{feed}/v1/posts/{post_id}/reaction",
                headers=h,
                json={"emoji": self.rng.choice(EMOJI)},
            )
        sample = self.rng.sample(self.posts, min(5, len(self.posts)))
        return await http.post(f"{feed}/v1/views", headers=h, json={"post_ids": sample})

    async def run(self) -> None:
        plan = self.plan
        stop_at = time.monotonic() + plan.duration_s
        budget = plan.max_requests
        limits = httpx.Limits(max_connections=plan.concurrency)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:

            async def worker() -> None:
                nonlocal budget
                while time.monotonic() < stop_at and budget > 0:
                    budget -= 1
                    op = self.ops[
                        bisect.bisect_left(self.op_cum, self.rng.random() * self.op_cum[-1])
                    ]
                    started = time.monotonic()
                    try:
                        ok = (await self.one(http, op)).status_code < 300
                    except httpx.HTTPError:
                        ok = False
                    if ok:
                        self.latencies[op].append(time.monotonic() - started)
                    else:
                        self.errors[op] += 1
                    with self.done.get_lock():
                        self.done.value += 1

            await asyncio.gather(*(worker() for _ in range(plan.concurrency)))


def _process(plan: Plan, index: int, done: Any, out: Any) -> None:
    client = Client(plan, index, done)
    started = time.monotonic()
    asyncio.run(client.run())
    out.put((dict(client.latencies), dict(client.errors), time.monotonic() - started))


async def setup(publisher: str, feed: str, channels: int, accounts: int) -> list[tuple[str, str]]:
    """Channels with one post each, and the accounts' Zipf-drawn follows, over HTTP."""
    made: list[tuple[str, str]] = []
    rng = random.Random(7)
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(channels):
            owner = f"load-owner-{i}"
            r = await http.post(
                f"{publisher}/v1/channels",
                headers=bearer(owner),
                json={
                    "handle": f"load_{tag}_{i}",
                    "name": f"Load {i}",
                    "category": "news",
                    "country": "FR",
                    "language": "fr",
                },
            )
            r.raise_for_status()
            made.append((r.json()["channel_id"], owner))
        await asyncio.gather(
            *(
                http.post(
                    f"{publisher}/v1/channels/{c}/posts",
                    headers=bearer(o),
                    json={"type": "text", "text": "hello"},
                )
                for c, o in made
            )
        )
        weights = zipf_weights(channels)
        sem = asyncio.Semaphore(16)

        async def follow(account: int) -> None:
            picks = {c for c, _ in rng.choices(made, weights, k=FOLLOWS_PER_ACCOUNT)}
            h = bearer(f"load-{account}")
            async with sem:
                for c in picks:
                    (await http.put(f"{feed}/v1/channels/{c}/follow", headers=h)).raise_for_status()

        await asyncio.gather(*(follow(a) for a in range(accounts)))
    return made


async def drive(plan: Plan, processes: int, log: Any = print) -> tuple[list[Result], float]:
    """Run the mix in `processes` worker processes; per-operation Results and seconds."""
    ctx = mp.get_context("spawn")
    done = ctx.Value("l", 0)
    out = ctx.Queue()
    per = Plan(**{**plan.__dict__, "max_requests": plan.max_requests // processes})
    workers = [ctx.Process(target=_process, args=(per, i, done, out)) for i in range(processes)]
    started = time.monotonic()
    for w in workers:
        w.start()
    results: list[tuple[dict[str, list[float]], dict[str, int], float]] = []
    last = 0
    while len(results) < processes:
        await asyncio.sleep(PROGRESS_S)
        while not out.empty():
            results.append(out.get())
        elapsed = time.monotonic() - started
        count = done.value
        log(f"load: {elapsed:5.1f} s, {count:,} requests, {(count - last) / PROGRESS_S:,.0f} req/s")
        last = count
        if elapsed > plan.duration_s + 60:
            break
    for w in workers:
        w.join(timeout=10)
        if w.is_alive():
            w.kill()
    # The workers' own run time: process start-up is not load.
    seconds = max((r[2] for r in results), default=time.monotonic() - started)
    merged: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for lat, err, _ in results:
        for op, values in lat.items():
            merged[op].extend(values)
        for op, n in err.items():
            errors[op] += n
    out_results = [
        Result(
            bench="",
            path="mixed client load",
            label=op,
            rate=len(merged[op]) / seconds,
            latency_ms=latency_summary(merged[op]),
            samples=len(merged[op]),
            errors=errors[op],
            params={"processes": processes, "concurrency": plan.concurrency},
        )
        for op in MIX
        if merged[op] or errors[op]
    ]
    return out_results, seconds


def cpu_seconds(process: ServiceProcess) -> float:
    assert process.proc is not None
    times = psutil.Process(process.proc.pid).cpu_times()
    return float(times.user + times.system)


async def benchmark(ctx: Context, quick: bool) -> list[Record]:
    stack = await ctx.stack()
    services = {
        "publisher": await ctx.service("publisher", stack),
        "feed": await ctx.service("feed", stack),
        "fanout": await ctx.service("fanout", stack),
    }
    publisher, feed = services["publisher"], services["feed"]
    channels, accounts = (20, 100) if quick else (100, 1000)
    made = await setup(publisher.base_url, feed.base_url, channels, accounts)
    ctx.log(f"setup: {channels} channels, {accounts} accounts x {FOLLOWS_PER_ACCOUNT} follows")
    plan = Plan(
        publisher.base_url,
        feed.base_url,
        made,
        accounts,
        duration_s=6 if quick else 45,
        max_requests=20_000 if quick else 200_000,
        concurrency=16,
        weights=zipf_weights(channels),
    )
    # Idle CPU (consumer polls, metrics, heartbeats) is measured first and taken off, so
    # a few posts over a long run do not look expensive.
    idle_start = {name: cpu_seconds(p) for name, p in services.items()}
    await asyncio.sleep(IDLE_S)
    cpu_before = {name: cpu_seconds(p) for name, p in services.items()}
    idle_rate = {name: (cpu_before[name] - idle_start[name]) / IDLE_S for name in services}
    started = time.monotonic()
    results, seconds = await drive(plan, 1 if quick else 2, ctx.log)
    await asyncio.sleep(1.0)  # let fan-out finish the last batch it was handed
    elapsed = time.monotonic() - started
    cpu = {
        name: max(0.0, cpu_seconds(p) - cpu_before[name] - idle_rate[name] * elapsed)
        for name, p in services.items()
    }
    done = {r.label: r.samples for r in results}
    total = sum(done.values())
    results.append(
        Result(
            bench="",
            path="mixed client load",
            label="all operations",
            rate=total / seconds,
            samples=total,
            errors=sum(r.errors for r in results),
        )
    )
    # What each service's own process spent per unit of work (Postgres and Kafka are
    # shared servers and not counted): the per-core capacity of docs/performance.md.
    writes = sum(done.get(op, 0) for op in ("post", "reaction", "views", "follow"))
    units = {
        "publisher": (done.get("post", 0), "post"),
        "feed": (total - done.get("post", 0), "feed request"),
        "fanout": (writes, "event (post, reaction, view report, follow)"),
    }
    for name, (count, unit) in units.items():
        if count:
            per = cpu[name] / count * 1000
            results.append(
                Result(
                    bench="",
                    path="service CPU per unit of work",
                    label=name,
                    rate=1000 / per,
                    unit="units/s per core",
                    values={
                        "cpu_ms_per_unit": per,
                        "cpu_s": cpu[name],
                        "idle_cpu": idle_rate[name],
                    },
                    samples=count,
                    params={"unit": unit},
                )
            )
            ctx.log(f"{name}: {per:.2f} ms CPU per {unit} → {1000 / per:,.0f}/s per core")
    return list(results)


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--publisher", default="http://127.0.0.1:8081")
    parser.add_argument("--feed", default="http://127.0.0.1:8082")
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16, help="per process")
    a = parser.parse_args()
    for url in (a.publisher, a.feed):
        if httpx.URL(url).host not in ("127.0.0.1", "localhost", "::1"):
            parser.error(f"{url}: loopback only")

    async def main() -> None:
        made = await setup(a.publisher, a.feed, a.channels, a.accounts)
        plan = Plan(
            a.publisher,
            a.feed,
            made,
            a.accounts,
            a.duration,
            a.max_requests,
            a.concurrency,
            weights=zipf_weights(a.channels),
        )
        results, seconds = await drive(plan, a.processes)
        print(f"{sum(r.samples for r in results):,} requests in {seconds:.1f} s")
        for r in results:
            lat = r.latency_ms
            print(
                f"{r.label:<10} {r.rate or 0:8.1f} req/s  p50 {lat.get('p50', 0):7.1f} ms  "
                f"p99 {lat.get('p99', 0):7.1f} ms  errors {r.errors}"
            )

    asyncio.run(main())


if __name__ == "__main__":
    cli()
