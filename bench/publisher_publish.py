"""Benchmark: sustained `POST /v1/channels/{id}/posts` against a bare endpoint.

Both servers run in the same run, on the same machine, as separate processes on the same
stack (FastAPI + uvicorn with uvloop/httptools, the shared idempotent producer with
acks=all): the publisher does everything a post needs (token, rate limit, admin check,
validation, produce, record the accepted post); the baseline only verifies the token
and produces a post event. Each is driven by the same closed-loop load (CONCURRENCY
requests in flight) for DURATION_S, in two alternating halves after a warm-up each; the
report gives requests/s, latency percentiles and the publisher/baseline rate ratio
(DESIGN.md target ≥ 50 %). Failed requests are counted and fail the check.

Crypto-shredding's cost is measured in the same run: a second publisher process, identical
but for `HERALD_PUBLISHER_ENCRYPT_BODIES=false` (bodies produced in the clear, no content
key inserted: the code path before encryption), is driven the same way, alternating with
the others; the check is encrypting/clear rate ≥ 0.9. Two whole processes rather than an
in-process comparison, so the figure includes everything a post's encryption costs a
request (the key's committed insert, wrapping and sealing) under the same load.

It creates its own database and topic namespace on the local stack and removes them at
the end; the whole run takes about a minute. The publisher's per-account rate limit is
raised for the run, since one account drives all the load.

Usage: python -m bench.publisher_publish [--duration 20] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request

from bench import harness
from tests.support.processes import ServiceProcess, free_port
from tests.support.stack import StackSlice, create_test_stack, destroy_test_stack
from tests.support.tokens import auth

WARMUP_S = 3.0
# Three server processes start (bare, publisher, publisher in the clear) before any timing.
QUICK_BUDGET_S = 120.0
FULL_BUDGET_S = 300.0


def bare_app() -> object:
    """The baseline: verify the bearer token, produce one post event, answer 202."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager
    from datetime import UTC, datetime

    from fastapi.responses import JSONResponse
    from uuid6 import uuid7

    from shared.auth import TokenVerifier
    from shared.events.content import PostBody, PostType
    from shared.events.posts import PostPublished, PostPublishedV1
    from shared.kafka import make_producer, produce
    from shared.producer import ProducerHolder
    from shared.settings import HeraldSettings
    from shared.topics import POSTS

    settings = HeraldSettings()
    verifier = TokenVerifier(settings)
    state: dict[str, ProducerHolder] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["producer"] = make_producer(settings)
        await state["producer"].start()
        yield
        await state["producer"].stop()

    app = FastAPI(lifespan=lifespan)

    @app.post("/bare/{channel_id}")
    async def bare(channel_id: uuid.UUID, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").partition(" ")[2]
        principal = verifier.verify(token)
        post_id = uuid7()
        event = PostPublished(
            payload=PostPublishedV1(
                channel_id=channel_id,
                post_id=post_id,
                author_id=principal.account_id,
                body=PostBody(type=PostType.TEXT, text="bench"),
                created_at=datetime.now(UTC),
            )
        )
        await produce(
            state["producer"], settings.topic(POSTS.name), str(channel_id), event, 5.0, "bench"
        )
        return JSONResponse({"post_id": str(post_id), "status": "accepted"}, status_code=202)

    return app


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    sample: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        if not self.latencies:
            return f"{self.name:<10} no successful requests, {self.errors} errors ({self.sample})"
        return (
            f"{self.name:<10} {self.rate:8.0f} req/s  p50 {self.pct(50):6.1f} ms  "
            f"p95 {self.pct(95):6.1f} ms  p99 {self.pct(99):6.1f} ms  "
            f"mean {statistics.fmean(self.latencies) * 1000:6.1f} ms  errors {self.errors}"
        )


def merge(name: str, runs: list[Result]) -> Result:
    """The runs of one side as one: requests, errors, seconds and latencies summed."""
    return Result(
        name,
        sum(r.requests for r in runs),
        sum(r.errors for r in runs),
        sum(r.seconds for r in runs),
        [x for r in runs for x in r.latencies],
        next((r.sample for r in runs if r.sample), ""),
    )


async def drive(
    name: str, url: str, headers: dict[str, str], concurrency: int, duration_s: float
) -> Result:
    body = {"type": "text", "text": "Clinics open on Saturday"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=10, limits=limits) as http:
        latencies: list[float] = []
        counts = {"ok": 0, "errors": 0}
        sample: list[str] = []
        measuring = False
        stop_at = time.monotonic() + WARMUP_S + duration_s

        async def worker() -> None:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = await http.post(url, json=body, headers=headers)
                elapsed = time.perf_counter() - started
                if measuring:
                    if response.status_code == 202:
                        counts["ok"] += 1
                        latencies.append(elapsed)
                    else:
                        counts["errors"] += 1
                        if not sample:
                            sample.append(f"{response.status_code} {response.text[:200]}")

        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(WARMUP_S)
        measuring = True
        began = time.monotonic()
        await asyncio.gather(*tasks)
        seconds = time.monotonic() - began
        return Result(name, counts["ok"], counts["errors"], seconds, latencies, "".join(sample))


async def run(duration_s: float, concurrency: int) -> list[Result]:
    media = tempfile.mkdtemp(prefix="herald-bench-media-")
    stack: StackSlice = await create_test_stack(media)
    logs = tempfile.mkdtemp(prefix="herald-bench-logs-")
    from pathlib import Path

    tuned = {
        "HERALD_RATE_PER_SECOND": "1000000",
        "HERALD_RATE_BURST": "1000000",
        "HERALD_LOG_LEVEL": "WARNING",
    }
    publisher = ServiceProcess("publisher", stack.env(**tuned), Path(logs))
    clear = ServiceProcess(
        "publisher", stack.env(**tuned, HERALD_PUBLISHER_ENCRYPT_BODIES="false"), Path(logs)
    )
    bare_port = free_port()
    bare = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.publisher_publish",
        "--serve-bare",
        str(bare_port),
        env=stack.env(),
    )
    try:
        await publisher.start()
        await clear.start()
        owner = f"bench-{uuid.uuid4().hex[:8]}"
        headers = auth(owner)
        async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
            created = await http.post(
                "/v1/channels",
                headers=headers,
                json={
                    "handle": f"bench_{uuid.uuid4().hex[:8]}",
                    "name": "Bench",
                    "category": "news",
                    "country": "KE",
                    "language": "en",
                },
            )
            created.raise_for_status()
            channel_id = created.json()["channel_id"]
        await harness.wait_listening(bare_port, "the baseline server")
        urls = {
            "baseline": f"http://127.0.0.1:{bare_port}/bare/{channel_id}",
            "publisher": f"{publisher.base_url}/v1/channels/{channel_id}/posts",
            "clear": f"{clear.base_url}/v1/channels/{channel_id}/posts",
        }
        # Alternating halves (baseline, publisher, baseline, publisher): a machine that
        # gets busier or quieter during the run moves both sides alike.
        halves: dict[str, list[Result]] = {name: [] for name in urls}
        for _ in range(2):
            for name, url in urls.items():
                halves[name].append(await drive(name, url, headers, concurrency, duration_s / 2))
        results = [merge(name, runs) for name, runs in halves.items()]
        print(
            f"concurrency {concurrency}, 2 x {duration_s / 2:.1f} s each after "
            f"{WARMUP_S:.0f} s warm-ups, alternating"
        )
        for result in results:
            print(result.line())
        baseline, full, in_clear = results
        if baseline.rate > 0:
            print(f"ratio publisher/baseline: {full.rate / baseline.rate:.2f} (target >= 0.50)")
        if in_clear.rate > 0:
            print(
                f"ratio encrypting/clear publisher: {full.rate / in_clear.rate:.2f} "
                "(target >= 0.90)"
            )
        return results
    finally:
        publisher.stop()
        clear.stop()
        if bare.returncode is None:
            bare.terminate()
            await bare.wait()
        await destroy_test_stack(stack)


async def benchmark(ctx: harness.Context, quick: bool) -> list[harness.Record]:
    """`bench.run` entry point (bench.harness convention): this measurement, shorter in
    quick mode, as harness records with its DESIGN.md check."""
    baseline, full, in_clear = await run(6.0 if quick else 20.0, 16 if quick else 32)
    path = "publish: POST /v1/channels/{id}/posts"
    records = [
        harness.Result(
            bench="",
            path=path,
            label=label,
            baseline=r is not full,
            rate=r.rate,
            latency_ms=harness.latency_summary(r.latencies),
            samples=r.requests,
            errors=r.errors,
        )
        for label, r in (
            ("bare endpoint (token + produce)", baseline),
            ("publisher", full),
            ("publisher, bodies in the clear", in_clear),
        )
    ]
    return [
        *records,
        harness.ratio(records[1], records[0], "rate", ">=", 0.5),
        harness.ratio(
            records[1], records[2], "rate", ">=", 0.9, "cost of sealing bodies (crypto-shredding)"
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve-bare", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare is not None:
        import uvicorn

        uvicorn.run(
            bare_app(),  # type: ignore[arg-type]
            host="127.0.0.1",
            port=args.serve_bare,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            access_log=False,
        )
        return
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(run(args.duration, args.concurrency))


if __name__ == "__main__":
    main()
