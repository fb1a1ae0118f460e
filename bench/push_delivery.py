"""Benchmark: publish → last push received, for a channel with 100,000 subscribed followers
(quick mode: 10,000), through the whole pipeline.

On a fresh slice of the local stack: publisher, fan-out and push run as processes (push
with `HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS=true`: the receivers are http on loopback);
the channel is created through the publisher, its followers and their push subscriptions
(one per follower, each its own P-256 key pair and auth secret) are inserted directly
into `follows` and `push_subscriptions`, as the feed would have written them.

Receivers: RECEIVERS processes of their own (raw asyncio + httptools on uvloop), each a
push-service host on its own port with every other subscription (the push service limits
concurrency per host, as it would for two real push services). They answer 201 to every
push without decrypting it (so they are never the bottleneck), count the pushes of each
subscription and note the wall-clock time of the first and of the last first arrival.
They keep the body and headers of every SAMPLE_EVERY-th subscription's push, and those
samples are decrypted here with the subscriptions' private keys (RFC 8291, by the test
receiver's independent code) and must carry the published post: a sample that does not
decrypt or names another post counts as an error.

Figures: seconds from sending the `POST` to the last subscription's first push, pushes/s
over that time, the first push's latency, duplicates, the push processes' CPU time (in
all and per push: on a shared machine the rate also depends on the CPU they got).
Push runs as PUSH_PROCESSES processes, as a 2-core deployment would run it: the same
consumer groups, so the post's shard records (keyed `post_id:shard`, spread over the
partitions of `herald.push.v1`) are shared between them and each sends about half.
Every subscription must receive the post at least once: a subscription that never did
is a loss (the check fails). Baseline, same run, same receivers and subscriptions: the
bare send — `PushSender.send` to every subscription from one process, with the push
service's concurrency (SEND_CONCURRENCY in all, PER_HOST per host), with no Kafka,
planning, shard records or Postgres pages — and the ratio of the end-to-end time to it
(what the pipeline adds to the sending itself).
Target (DESIGN.md): 100,000 pushes finished within 60 s on 2 cores (quick mode: the same
rate, ≥ 1,667 pushes/s from publish to the last push).

Usage: python -m bench.push_delivery [--quick] (or python -m bench.run --only push_delivery)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx

from bench import harness
from tests.support.processes import free_port
from tests.support.tokens import auth

FULL_FOLLOWERS = 100_000
QUICK_FOLLOWERS = 10_000
RECEIVERS = 2
# Push processes: one per core of the 2-core target. Encryption (a fresh ECDH per push) is
# CPU-bound and one asyncio process uses one core; the publisher and fan-out are idle
# while the pushes go out, so a second process is what the second core is for.
PUSH_PROCESSES = 2
SAMPLE_EVERY = 1_000  # subscriptions whose pushes are kept and decrypted
# The push service's defaults (PushSettings): the baseline sends with the same limits.
SEND_CONCURRENCY = 256
PER_HOST = 64
TARGET_S = 60.0  # DESIGN.md: 100 k pushes within 60 s
TARGET_RATE = FULL_FOLLOWERS / TARGET_S
WAIT_S = {True: 60.0, False: 240.0}  # the longest we wait for the last push
# Own budgets: the fixture (100 k key pairs, rows, three services) and two full sends.
FULL_BUDGET_S = 480.0
QUICK_BUDGET_S = 90.0
PATH = "push: publish → last push received"
TEXT = (
    "Line 4 is suspended between Central and Harbour until 18:00; replacement buses run "
    "every 10 minutes from stop B."
)


# --- the receiver process -------------------------------------------------------------


def serve(port: int, subscriptions: int) -> None:
    """A counting push service on `port`: 201 to every `POST /push/<n>`; `GET /stats`
    (counts and times), `GET /samples` (kept pushes), `GET /reset`."""
    import httptools
    import uvloop

    counts = bytearray(subscriptions)  # pushes per subscription, saturating at 255
    state: dict[str, Any] = {"total": 0, "distinct": 0, "first_at": None, "last_new_at": None}
    samples: dict[int, dict[str, str]] = {}
    created = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"

    def reply(body: bytes) -> bytes:
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)
            self.parser = httptools.HttpRequestParser(self)
            self.url = b""
            self.headers: dict[str, str] = {}
            self.body = bytearray()

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_message_begin(self) -> None:
            self.url = b""
            self.headers = {}
            self.body = bytearray()

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers[name.decode().lower()] = value.decode()

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            path = self.url.decode()
            if path.startswith("/push/"):
                self.transport.write(created)
                self.pushed(int(path.rsplit("/", 1)[1]))
            elif path == "/stats":
                self.transport.write(reply(json.dumps({**state, "dup": dup()}).encode()))
            elif path == "/samples":
                self.transport.write(reply(json.dumps(samples).encode()))
            elif path == "/reset":
                counts[:] = bytes(len(counts))
                samples.clear()
                state.update(total=0, distinct=0, first_at=None, last_new_at=None)
                self.transport.write(reply(b"{}"))

        def pushed(self, n: int) -> None:
            now = time.time()
            state["total"] += 1
            if state["first_at"] is None:
                state["first_at"] = now
            if counts[n] == 0:
                state["distinct"] += 1
                state["last_new_at"] = now
            counts[n] = min(255, counts[n] + 1)
            if n % SAMPLE_EVERY == 0:
                samples[n] = {**self.headers, "body": base64.b64encode(self.body).decode()}

    def dup() -> int:
        """Pushes beyond the first of their subscription."""
        return int(state["total"] - state["distinct"])

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=2048)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# --- the baseline process: the bare send ------------------------------------------------


async def bare_send(database_url: str, channel_id: uuid.UUID) -> dict[str, Any]:
    """`PushSender.send` of one post's push to every subscription of the slice (read
    first, untimed), with the push service's concurrency limits."""
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric import ec

    from services.push.payload import build_push
    from services.push.sender import Outcome, PushSender, Subscription

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT subscription_id, endpoint, p256dh, auth FROM push_subscriptions"
        )
    finally:
        await conn.close()
    subs = [
        Subscription(
            subscription_id=r["subscription_id"],
            endpoint=r["endpoint"],
            p256dh=bytes(r["p256dh"]),
            auth=bytes(r["auth"]),
        )
        for r in rows
    ]
    now = datetime.now(UTC)
    push = build_push(
        channel_id=channel_id,
        channel_name="Push delivery",
        post_id=uuid.uuid4(),
        seq=1,
        body={"type": "text", "text": TEXT},
        priority="normal",
        expires_at=now + timedelta(days=30),
        now=now,
    )
    assert push is not None
    sender = PushSender(
        vapid_key=ec.generate_private_key(ec.SECP256R1()),
        contact="mailto:bench@example.org",
        allow_insecure=True,  # the receivers are on loopback, over http
        per_host_concurrency=PER_HOST,
        max_connections=SEND_CONCURRENCY,
    )
    await sender.start()
    pending = iter(subs)
    delivered = 0

    async def worker() -> None:
        # SEND_CONCURRENCY of these: as many pushes in flight as the service allows, with
        # no task per subscription waiting its turn.
        nonlocal delivered
        for sub in pending:
            # An exception ends the run: a baseline that fails is no baseline.
            outcome = await sender.send(
                sub, push.payload, ttl_s=push.ttl_s, urgency=push.urgency, topic=push.topic
            )
            delivered += outcome is Outcome.DELIVERED

    try:
        cpu_before = time.process_time()
        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(SEND_CONCURRENCY)))
        seconds = time.monotonic() - started
        cpu = time.process_time() - cpu_before
    finally:
        await sender.close()
    return {
        "seconds": seconds,
        "delivered": delivered,
        "errors": len(subs) - delivered,
        "cpu_s": cpu,
    }


# --- the runner side --------------------------------------------------------------------


@dataclass
class Fixture:
    channel_id: uuid.UUID
    owner: str
    followers: int
    # The private keys of the sampled subscriptions (index → key, auth secret).
    sample_keys: dict[int, tuple[Any, bytes]]


async def seed(
    conn: asyncpg.Connection, channel_id: uuid.UUID, n: int, ports: list[int]
) -> dict[int, tuple[Any, bytes]]:
    """`n` followers of the channel, each with one push subscription on receiver i % R."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    tag = uuid.uuid4().hex[:6]
    follows: list[tuple[Any, ...]] = []
    subscriptions: list[tuple[Any, ...]] = []
    samples: dict[int, tuple[Any, bytes]] = {}
    for i in range(n):
        account = f"pd{tag}-{i}"
        key = ec.generate_private_key(ec.SECP256R1())
        secret = os.urandom(16)
        if i % SAMPLE_EVERY == 0:
            samples[i] = (key, secret)
        public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        endpoint = f"http://127.0.0.1:{ports[i % len(ports)]}/push/{i}"
        follows.append((account, channel_id, True))
        subscriptions.append((uuid.uuid4(), account, endpoint, public, secret))
    await conn.copy_records_to_table(
        "follows", records=follows, columns=["account_id", "channel_id", "counted_active"]
    )
    await conn.copy_records_to_table(
        "push_subscriptions",
        records=subscriptions,
        columns=["subscription_id", "account_id", "endpoint", "p256dh", "auth"],
    )
    await conn.execute("VACUUM ANALYZE follows")
    await conn.execute("VACUUM ANALYZE push_subscriptions")
    return samples


async def _get(http: httpx.AsyncClient, port: int, path: str) -> Any:
    response = await http.get(f"http://127.0.0.1:{port}{path}")
    response.raise_for_status()
    return response.json()


async def stats(http: httpx.AsyncClient, ports: list[int]) -> list[dict[str, Any]]:
    return [await _get(http, port, "/stats") for port in ports]


def check_samples(
    samples: dict[str, dict[str, str]], fixture: Fixture, post_id: str
) -> tuple[int, int]:
    """(decrypted and naming `post_id`, failed) over the kept pushes."""
    from tests.support.push_receiver import DecryptionError, decrypt

    ok = failed = 0
    for index, kept in samples.items():
        key, secret = fixture.sample_keys[int(index)]
        try:
            document = json.loads(decrypt(base64.b64decode(kept["body"]), key, secret))
        except (DecryptionError, ValueError):
            failed += 1
            continue
        good = (
            document.get("post_id") == post_id
            and document.get("channel_id") == str(fixture.channel_id)
            and kept.get("content-encoding") == "aes128gcm"
        )
        ok, failed = (ok + 1, failed) if good else (ok, failed + 1)
    return ok, failed


async def end_to_end(
    ctx: harness.Context,
    pub: httpx.AsyncClient,
    http: httpx.AsyncClient,
    ports: list[int],
    fixture: Fixture,
    push_pids: list[int],
) -> harness.Result:
    """Publish one post; wait for every subscription's first push (or WAIT_S)."""
    import psutil

    push_processes = [psutil.Process(pid) for pid in push_pids]

    def push_cpu() -> float:
        return sum(sum(process.cpu_times()[:2]) for process in push_processes)

    cpu_before = push_cpu()
    sent_at = time.time()
    response = await pub.post(
        f"/v1/channels/{fixture.channel_id}/posts",
        json={"type": "text", "text": TEXT},
        headers=auth(fixture.owner),
    )
    response.raise_for_status()
    post_id = response.json()["post_id"]
    deadline = time.monotonic() + WAIT_S[ctx.quick]
    reported = 0.0
    while True:
        seen = await stats(http, ports)
        distinct = sum(s["distinct"] for s in seen)
        if distinct >= fixture.followers or time.monotonic() > deadline:
            break
        if time.monotonic() - reported > 10:
            reported = time.monotonic()
            ctx.log(f"{distinct:,} of {fixture.followers:,} subscriptions reached")
        await asyncio.sleep(0.1)
    cpu = push_cpu() - cpu_before
    await asyncio.sleep(1.0)  # late duplicates, if any, are counted too
    seen = await stats(http, ports)
    distinct = sum(s["distinct"] for s in seen)
    lost = fixture.followers - distinct
    firsts = [s["first_at"] for s in seen if s["first_at"] is not None]
    lasts = [s["last_new_at"] for s in seen if s["last_new_at"] is not None]
    to_last = max(lasts) - sent_at if lasts else float("nan")
    samples: dict[str, dict[str, str]] = {}
    for port in ports:
        samples.update(await _get(http, port, "/samples"))
    decrypted, bad = check_samples(samples, fixture, post_id)
    ctx.log(
        f"{distinct:,} reached in {to_last:.1f} s, {lost:,} lost, "
        f"{sum(s['dup'] for s in seen):,} duplicates; {decrypted} samples decrypted, {bad} bad"
    )
    return harness.Result(
        bench="",
        path=PATH,
        label="publish → last push (publisher, fan-out, push)",
        rate=distinct / to_last if lasts and to_last > 0 else 0.0,
        unit="pushes/s",
        samples=distinct,
        errors=lost + bad,
        values={
            "seconds_to_last_push": to_last,
            "seconds_to_first_push": min(firsts) - sent_at if firsts else float("nan"),
            "subscriptions": fixture.followers,
            "reached": distinct,
            "lost": lost,
            "duplicates": sum(s["dup"] for s in seen),
            "samples_decrypted": decrypted,
            "samples_bad": bad,
            "push_cpu_s": cpu,
            # What the push processes spent per push, all together: on a machine they
            # share, the rate above also depends on how much CPU they got.
            "push_cpu_us_per_push": cpu / max(distinct, 1) * 1e6,
        },
    )


async def baseline(
    ctx: harness.Context,
    stack_url: str,
    fixture: Fixture,
    http: httpx.AsyncClient,
    ports: list[int],
) -> harness.Result:
    """The bare send in its own process, to the same (reset) receivers."""
    for port in ports:
        await _get(http, port, "/reset")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.push_delivery",
        "--bare",
        stack_url,
        "--channel",
        str(fixture.channel_id),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the bare sending process exited with {process.returncode}")
    figures = json.loads(stdout.decode().strip().splitlines()[-1])
    seen = await stats(http, ports)
    distinct = sum(s["distinct"] for s in seen)
    lost = fixture.followers - distinct
    ctx.log(
        f"bare send: {figures['delivered']:,} delivered in {figures['seconds']:.1f} s, "
        f"{lost:,} subscriptions not reached"
    )
    return harness.Result(
        bench="",
        path=PATH,
        label="bare PushSender.send, one process (no Kafka, planning or pages)",
        baseline=True,
        rate=figures["delivered"] / figures["seconds"] if figures["seconds"] > 0 else 0.0,
        unit="pushes/s",
        samples=figures["delivered"],
        errors=max(figures["errors"], lost),
        values={
            "seconds_to_last_push": figures["seconds"],
            "subscriptions": fixture.followers,
            "reached": distinct,
            "sender_cpu_s": figures["cpu_s"],
            "sender_cpu_us_per_push": figures["cpu_s"] / max(figures["delivered"], 1) * 1e6,
        },
    )


async def benchmark(ctx: harness.Context, quick: bool) -> list[harness.Record]:
    """`bench.run` entry point (bench.harness convention)."""
    followers = QUICK_FOLLOWERS if quick else FULL_FOLLOWERS
    ports = [free_port() for _ in range(RECEIVERS)]
    receivers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.push_delivery", "--serve", str(port), str(followers)
        )
        for port in ports
    ]
    try:
        for port in ports:
            await harness.wait_listening(port, "a push receiver")
        stack = await ctx.stack()
        publisher = await ctx.service("publisher", stack)
        await ctx.service("fanout", stack)
        owner = f"pd-owner-{uuid.uuid4().hex[:6]}"
        async with (
            httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
            httpx.AsyncClient(timeout=20) as http,
        ):
            created = await pub.post(
                "/v1/channels",
                headers=auth(owner),
                json={
                    "handle": f"pd_{uuid.uuid4().hex[:8]}",
                    "name": "Push delivery",
                    "category": "news",
                    "country": "FR",
                    "language": "fr",
                },
            )
            created.raise_for_status()
            channel_id = uuid.UUID(created.json()["channel_id"])
            conn = await asyncpg.connect(stack.database_url)
            try:
                keys = await seed(conn, channel_id, followers, ports)
            finally:
                await conn.close()
            ctx.log(f"seeded {followers:,} followers with a subscription each")
            fixture = Fixture(channel_id, owner, followers, keys)
            pids = []
            for _ in range(PUSH_PROCESSES):
                push = await ctx.service("push", stack, HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS="true")
                assert push.proc is not None
                pids.append(push.proc.pid)
            subject = await end_to_end(ctx, pub, http, ports, fixture, pids)
            bare = await baseline(ctx, stack.database_url, fixture, http, ports)
    finally:
        for receiver in receivers:
            if receiver.returncode is None:
                receiver.terminate()
                await receiver.wait()
    params = {
        "subscriptions": followers,
        "receivers": RECEIVERS,
        "push_processes": PUSH_PROCESSES,
        "send_concurrency": SEND_CONCURRENCY,
        "per_host_concurrency": PER_HOST,
    }
    subject.params = bare.params = params
    to_last = subject.values["seconds_to_last_push"]
    bare_s = bare.values["seconds_to_last_push"]
    ratio = harness.ratio_value(to_last, bare_s)
    subject.values["ratio_to_bare_time"] = ratio
    note = (
        f"{subject.rate or 0:,.0f} pushes/s; bare send {bare_s:.1f} s "
        f"({bare.rate or 0:,.0f}/s), end-to-end/bare time {ratio:.2f}; "
        f"CPU per push: {PUSH_PROCESSES} push processes "
        f"{subject.values['push_cpu_us_per_push']:.0f} µs, "
        f"bare sender {bare.values['sender_cpu_us_per_push']:.0f} µs; "
        f"{subject.values['samples_decrypted']:.0f} sampled pushes decrypted"
    )
    check = (
        harness.absolute(subject, "rate", ">=", TARGET_RATE, "pushes/s", note=note)
        if quick
        else harness.absolute(subject, "seconds_to_last_push", "<=", TARGET_S, "s", note=note)
    )
    return [bare, subject, check]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=int, nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--bare", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--channel", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(*args.serve)
        return
    if args.bare is not None:
        import uvloop

        print(json.dumps(uvloop.run(bare_send(args.bare, uuid.UUID(args.channel)))))
        return
    ctx = harness.Context(
        "push_delivery",
        args.quick,
        QUICK_BUDGET_S if args.quick else FULL_BUDGET_S,
        Path(tempfile.mkdtemp(prefix="herald-bench-logs-")),
    )

    async def run() -> list[harness.Record]:
        try:
            return await benchmark(ctx, args.quick)
        finally:
            await ctx.close()

    for record in asyncio.run(run()):
        print(json.dumps(harness.to_json(record)))


if __name__ == "__main__":
    main()
