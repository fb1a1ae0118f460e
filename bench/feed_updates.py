"""Benchmark: `GET /v1/updates` for an account following 100 channels, against the same
SQL served bare, without middleware.

Two processes on the same server stack (uvicorn with uvloop/httptools, as
`shared.runtime.serve_http` runs every service): the real feed app (FastAPI, its
middleware, auth, rate limit, models, live consumer) serving `/v1/updates`, and the
baseline, a raw ASGI callable with no framework and no middleware serving `/bare/updates`:
the identical `UPDATES` statement through an asyncpg pool made by the same
`shared.db.pool.create_pool` with the same size, rows dumped with orjson. Both are driven
by the same closed-loop load (CONCURRENCY requests in flight), each for DURATION_S after a
warm-up, alternating twice; the report gives requests/s, p50/p99 and the feed/bare ratio
(DESIGN.md target ≥ 50 %). A response other than 200 is counted as a failure of that
side (and fails the check), not raised.

Data: 100 channels with POSTS_PER_CHANNEL visible posts each, written with SQL (this
measures reads only), the account following all of them with varied read markers. It
creates its own database and topic namespace on the local stack and removes them at the
end; the run takes under a minute.

Usage: python -m bench.feed_updates [--duration 8] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench import harness
from tests.support.processes import ROOT, ServiceProcess
from tests.support.stack import StackSlice, create_test_stack, destroy_test_stack
from tests.support.tokens import auth

FOLLOWS = 100
POSTS_PER_CHANNEL = 50
ACCOUNT = "bench-reader"
WARMUP_S = 2.0
ROUNDS = 2


def serve() -> None:
    """The feed process of this benchmark: the real app, as `python -m services.feed`
    would run it."""
    from services.feed.app import create_app
    from services.feed.config import FeedSettings
    from shared.runtime import serve_http

    settings = FeedSettings()
    serve_http(create_app(settings), settings.host, settings.port)


def serve_bare() -> None:
    """The baseline process: a raw ASGI app (no framework, no middleware) answering
    `GET /bare/updates` with the `UPDATES` rows and `GET /readyz` once its pool is open,
    on uvicorn with the same options as `shared.runtime.serve_http`."""
    from typing import Any

    import orjson
    import uvicorn

    from services.feed.config import FeedSettings
    from services.feed.queries.follows import NEVER, UPDATES
    from shared.db.pool import create_pool

    settings = FeedSettings()
    state: dict[str, asyncpg.Pool] = {}

    async def respond(send: Any, status: int, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["pool"] = await create_pool(settings)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await state["pool"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/readyz":
            await respond(send, 200, b"{}")
        elif scope["path"] == "/bare/updates":
            async with state["pool"].acquire() as conn:
                rows = await conn.fetch(UPDATES, ACCOUNT, None, None, NEVER, 100)
            await respond(send, 200, orjson.dumps([dict(r) for r in rows], default=str))
        else:
            await respond(send, 404, b"{}")

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        limit_concurrency=20_000,
    )


async def seed(stack: StackSlice) -> None:
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            """
            WITH ch AS (
                INSERT INTO channels (channel_id, handle, name, category, country, language,
                                      last_seq, last_post_at)
                SELECT gen_random_uuid(), 'bench_' || i, 'Channel ' || i, 'news', 'FR', 'fr',
                       $1, now() - i * interval '1 minute'
                FROM generate_series(1, $2) i
                RETURNING channel_id, last_post_at
            ), f AS (
                INSERT INTO follows (account_id, channel_id, last_read_seq, followed_at)
                SELECT $3, channel_id, (random() * $1)::bigint, now() - interval '2 days'
                FROM ch
            )
            INSERT INTO posts (channel_id, post_id, created_at, seq, author_id, body,
                               expires_at, fanned_out)
            SELECT ch.channel_id, gen_random_uuid(),
                   ch.last_post_at - (($1 - s) * interval '10 seconds'), s, 'admin',
                   jsonb_build_object('type', 'text', 'text', 'post number ' || s),
                   now() + interval '29 days', true
            FROM ch, generate_series(1, $1) s
            """,
            POSTS_PER_CHANNEL,
            FOLLOWS,
            ACCOUNT,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[int(len(lat) * 0.99) - 1] * 1000
        return (
            f"{self.name:<14} {self.rate:8.1f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"
            f"   errors {self.errors}"
        )


async def drive(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], duration: float, concurrency: int
) -> Result:
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + WARMUP_S + duration
    measure_from = time.monotonic() + WARMUP_S

    async def worker() -> None:
        nonlocal errors
        while (now := time.monotonic()) < stop_at:
            try:
                ok = (await client.get(path, headers=headers)).status_code == 200
            except httpx.HTTPError:
                ok = False
            if now >= measure_from:
                if ok:
                    latencies.append(time.monotonic() - now)
                else:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(path, len(latencies), duration, latencies, errors)


class BenchServer(ServiceProcess):
    """A server process of this benchmark: `role` is "serve" (the feed) or "serve-bare"."""

    def __init__(self, role: str, env: dict[str, str], log_dir: Path) -> None:
        super().__init__("feed", env, log_dir)
        self.role = role
        self.log_path = log_dir / f"feed-{role}-{self.port}.log"

    def spawn(self) -> None:
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.feed_updates", self.role],
            env=self.env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


async def main(duration: float, concurrency: int) -> dict[str, list[Result]]:
    stack = await create_test_stack(tempfile.mkdtemp(prefix="herald-bench-media-"))
    servers: list[ServiceProcess] = []
    try:
        await seed(stack)
        env = stack.env(
            HERALD_RATE_PER_SECOND="1000000",
            HERALD_RATE_BURST="1000000",
            HERALD_LOG_LEVEL="WARNING",
            HERALD_DB_POOL_MAX="10",
        )
        logs = Path(tempfile.mkdtemp(prefix="herald-bench-logs-"))
        feed, bare = BenchServer("serve", env, logs), BenchServer("serve-bare", env, logs)
        for process in (feed, bare):
            servers.append(process)
            process.spawn()
            await process.wait_ready()
        headers = auth(ACCOUNT)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            items = (
                await client.get(f"{feed.base_url}/v1/updates?limit=100", headers=headers)
            ).json()["items"]
            bare_rows = (await client.get(f"{bare.base_url}/bare/updates")).json()
            assert len(items) == len(bare_rows) == FOLLOWS, (len(items), len(bare_rows))
            urls = {
                "/bare/updates": f"{bare.base_url}/bare/updates",
                "/v1/updates?limit=100": f"{feed.base_url}/v1/updates?limit=100",
            }
            results: dict[str, list[Result]] = {path: [] for path in urls}
            for _ in range(ROUNDS):
                for path, url in urls.items():
                    run = await drive(client, url, headers, duration, concurrency)
                    run.name = path
                    results[path].append(run)
        print(
            f"GET /v1/updates, {FOLLOWS} follows, {POSTS_PER_CHANNEL} posts each, "
            f"concurrency {concurrency}, {ROUNDS} x {duration:.0f} s per endpoint"
        )
        for runs in results.values():
            for run in runs:
                print("  " + run.line())
        bare_rate = statistics.mean(r.rate for r in results["/bare/updates"])
        feed_rate = statistics.mean(r.rate for r in results["/v1/updates?limit=100"])
        print(f"feed/bare rate ratio: {feed_rate / bare_rate:.2f} (target >= 0.50)")
        return results
    finally:
        for running in servers:
            running.stop()
        await destroy_test_stack(stack)


async def benchmark(ctx: harness.Context, quick: bool) -> list[harness.Record]:
    """`bench.run` entry point (bench.harness convention): this measurement, shorter in
    quick mode, as harness records with its DESIGN.md check (rounds merged)."""
    results = await main(3.0 if quick else 8.0, 16)
    records = []
    for path, label in (
        ("/bare/updates", "bare asyncpg query, no middleware"),
        ("/v1/updates?limit=100", "feed"),
    ):
        runs = results[path]
        records.append(
            harness.Result(
                bench="",
                path=f"GET /v1/updates, {FOLLOWS} follows",
                label=label,
                baseline=path.startswith("/bare"),
                rate=sum(r.requests for r in runs) / sum(r.seconds for r in runs),
                latency_ms=harness.latency_summary([x for r in runs for x in r.latencies]),
                samples=sum(r.requests for r in runs),
                errors=sum(r.errors for r in runs),
            )
        )
    return [*records, harness.ratio(records[1], records[0], "rate", ">=", 0.5)]


def cli() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve()
        return
    if sys.argv[1:2] == ["serve-bare"]:
        serve_bare()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.duration, args.concurrency))


if __name__ == "__main__":
    cli()
