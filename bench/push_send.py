"""Benchmark: encrypted Web Push requests per second from one process, against the same
requests sent bare.

Besides the runner, two processes: a minimal push receiver (raw asyncio + httptools on
uvloop, answers 201 to every POST after reading it; nothing checked or decrypted, so it
is never the bottleneck), and the measured sending process (uvloop, as
`python -m services.push` runs), which drives two sides with the same closed-loop load
(CONCURRENCY requests in flight) to the same receiver:

- subject: `PushSender.send` as the push service calls it, to SUBSCRIPTIONS distinct
  subscriptions (each its own P-256 key and auth secret): per push a fresh ephemeral key
  and ECDH, RFC 8291 `aes128gcm` encryption, the VAPID header (cached per origin), the
  endpoint parsed and its address checked, the per-host slot and breaker, metrics;
- baseline: a bare aiohttp loop POSTing the same headers and a body of the same size
  (no encryption, no checks) over one session.

Each side sends FULL_PUSHES (QUICK_PUSHES in quick mode) in alternating halves (sender,
bare, bare, sender), each after a warm-up, so a machine that gets busier or quieter
moves both alike; a call not answered 201 (`DELIVERED`) is an error, and errors fail the
check. Figures: pushes/s, latency percentiles, the sending process's CPU time per push
on each side (and so the pushes one fully available core would send: the measured rate
also depends on the CPU the process got on a machine it shares with the receiver), the
sender/bare rate ratio, the share of the sender's per-push time that its extra work
takes (1 - ratio), and the share taken by the encryption alone (`encrypt()` timed by
itself, divided by the sender's per-push time). Target (DESIGN.md): ≥ 2,000 encrypted
pushes/s per push process. No database or broker involved.

Usage: python -m bench.push_send [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from bench import harness
from tests.support.processes import free_port

FULL_PUSHES = 20_000
QUICK_PUSHES = 4_000
CONCURRENCY = 32  # = PushSender's default per-host concurrency: one receiver, one host
SUBSCRIPTIONS = 1_000
WARMUP_CALLS = 500  # per half, unmeasured: connections opened, caches warm
MAX_SIDE_S = 60.0  # a half that cannot finish its pushes stops here (and fails the check)
MAX_ERRORS = 100  # a half whose calls keep failing stops early rather than spin
ENCRYPT_SAMPLES = 2_000
PATH = "push: encrypted Web Push requests"
TARGET_PER_S = 2_000.0
PAYLOAD = json.dumps(
    {
        "type": "post",
        "channel_id": "0b7f3c8e-6d0a-4f59-9a8e-3a1c2f7b9d10",
        "channel_name": "City transit alerts",
        "post_id": "0190b1c2-7d3e-7f00-8000-000000000001",
        "seq": 1234,
        "preview": "Line 4 is suspended between Central and Harbour until 18:00; replacement "
        "buses run every 10 minutes from stop B.",
        "priority": "normal",
        "expires_at": "2026-12-04T12:00:00Z",
    }
).encode()


# --- the receiver process -------------------------------------------------------------


def serve(port: int) -> None:
    """A minimal push service: 201 to every request, HTTP/1.1 keep-alive."""
    import httptools
    import uvloop

    response = b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)  # uvloop's, not a subclass
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError:
                self.transport.close()

        def on_message_complete(self) -> None:
            self.transport.write(response)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


# --- the measured sending process -----------------------------------------------------


async def drive(port: int, pushes: int) -> dict[str, Any]:
    """Both sides against the receiver on `port`; their results and figures as JSON."""
    import aiohttp
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from services.push.sender import Outcome, PushSender, Subscription
    from services.push.sender.encryption import encrypt
    from services.push.sender.vapid import VapidSigner, b64url

    def new_subscription(n: int) -> Subscription:
        key = ec.generate_private_key(ec.SECP256R1())
        return Subscription(
            subscription_id=uuid.uuid4(),
            endpoint=f"http://127.0.0.1:{port}/push/{n}",
            p256dh=key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint),
            auth=os.urandom(16),
        )

    subscriptions = [new_subscription(n) for n in range(SUBSCRIPTIONS)]
    vapid_key = ec.generate_private_key(ec.SECP256R1())
    contact = "mailto:bench@example.org"
    sender = PushSender(
        vapid_key=vapid_key,
        contact=contact,
        allow_insecure=True,  # the receiver is on loopback, over http
        per_host_concurrency=CONCURRENCY,
    )
    await sender.start()
    body_size = len(encrypt(PAYLOAD, subscriptions[0].p256dh, subscriptions[0].auth))
    bare_body = os.urandom(body_size)
    origin = f"http://127.0.0.1:{port}"
    bare_headers = {
        "TTL": "86400",
        "Urgency": "normal",
        "Topic": b64url(uuid.UUID(json.loads(PAYLOAD)["channel_id"]).bytes),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "Authorization": VapidSigner(vapid_key, contact).authorization(origin),
    }
    bare_session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2),
        timeout=aiohttp.ClientTimeout(total=10),
    )
    turn = {"sender": 0, "bare": 0}

    async def send_encrypted() -> bool:
        n = turn["sender"] = turn["sender"] + 1
        outcome = await sender.send(
            subscriptions[n % SUBSCRIPTIONS],
            PAYLOAD,
            ttl_s=86400,
            urgency="normal",
            topic=bare_headers["Topic"],
        )
        return outcome is Outcome.DELIVERED

    async def send_bare() -> bool:
        n = turn["bare"] = turn["bare"] + 1
        async with bare_session.post(
            f"{origin}/push/{n % SUBSCRIPTIONS}", data=bare_body, headers=bare_headers
        ) as response:
            await response.read()
            return response.status == 201

    calls = {"sender": send_encrypted, "bare": send_bare}
    samples: dict[str, list[harness.Sample]] = {"sender": [], "bare": []}
    cpu = {"sender": 0.0, "bare": 0.0}
    try:
        for name in ("sender", "bare", "bare", "sender"):
            cpu_before = time.process_time()
            sample = await closed_loop(calls[name], pushes // 2)
            cpu[name] += time.process_time() - cpu_before
            samples[name].append(sample)
        encrypt_s = _time_encrypt(encrypt, subscriptions)
    finally:
        await bare_session.close()
        await sender.close()
    out: dict[str, Any] = {"encrypt_us": encrypt_s * 1e6, "body_bytes": body_size}
    for name, runs in samples.items():
        merged = harness.Sample(
            latencies=[t for run in runs for t in run.latencies],
            errors=sum(run.errors for run in runs),
            seconds=sum(run.seconds for run in runs),
        )
        out[name] = harness.to_json(merged.result(PATH, name))
        # CPU includes the warm-ups' calls: per call made, not per measured call.
        made = turn[name]
        cpu_us = cpu[name] / max(made, 1) * 1e6
        out[name]["values"]["cpu_us_per_push"] = cpu_us
        # What one fully available core would send: the rate above is also bounded by
        # the CPU this process got on a machine shared with the receiver (and others).
        out[name]["values"]["pushes_per_cpu_second"] = 1e6 / cpu_us if cpu_us > 0 else 0.0
    return out


async def closed_loop(call: Callable[[], Awaitable[bool]], calls: int) -> harness.Sample:
    """CONCURRENCY workers make WARMUP_CALLS unmeasured calls, then `calls` measured ones
    back to back; stopped early after MAX_SIDE_S or MAX_ERRORS failed calls (an
    exception is a failed call too)."""
    latencies: list[float] = []
    errors = 0
    started = {"warmup": 0, "measured": 0}
    deadline = time.monotonic() + MAX_SIDE_S
    measuring = asyncio.Event()
    began = 0.0

    async def worker() -> None:
        nonlocal errors, began
        while time.monotonic() < deadline and errors <= MAX_ERRORS:
            if started["warmup"] < WARMUP_CALLS:
                started["warmup"] += 1
                measured = False
            elif started["measured"] < calls:
                if not measuring.is_set():
                    measuring.set()
                    began = time.monotonic()
                started["measured"] += 1
                measured = True
            else:
                return
            call_began = time.monotonic()
            try:
                ok = await call()
            except Exception:
                ok = False
            if measured and ok:
                latencies.append(time.monotonic() - call_began)
            elif not ok:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    seconds = time.monotonic() - began if measuring.is_set() else 0.0
    return harness.Sample(latencies, errors, max(seconds, 1e-9))


def _time_encrypt(encrypt: Any, subscriptions: list[Any]) -> float:
    """Seconds one `encrypt()` takes (ephemeral key, ECDH, HKDF, AES-GCM), on average."""
    started = time.perf_counter()
    for n in range(ENCRYPT_SAMPLES):
        sub = subscriptions[n % len(subscriptions)]
        encrypt(PAYLOAD, sub.p256dh, sub.auth)
    return (time.perf_counter() - started) / ENCRYPT_SAMPLES


# --- the runner side --------------------------------------------------------------------


async def measure(pushes: int, log: Any = print) -> dict[str, Any]:
    """Start the receiver and the sending process; the sending process's figures."""
    port = free_port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.push_send", "--serve", str(port)
    )
    try:
        await harness.wait_listening(port, "the push receiver")
        log(f"receiver on port {port}; sending {pushes:,} pushes per side")
        driver = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.push_send",
            "--drive",
            str(port),
            "--pushes",
            str(pushes),
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await driver.communicate()
        if driver.returncode != 0:
            raise RuntimeError(f"the sending process exited with {driver.returncode}")
        figures: dict[str, Any] = json.loads(stdout.decode().strip().splitlines()[-1])
        return figures
    finally:
        if receiver.returncode is None:
            receiver.terminate()
            await receiver.wait()


def records(figures: dict[str, Any], pushes: int) -> list[harness.Record]:
    sender = harness.from_json(figures["sender"])
    bare = harness.from_json(figures["bare"])
    assert isinstance(sender, harness.Result) and isinstance(bare, harness.Result)
    sender.label, sender.unit = "PushSender.send (encrypted)", "pushes/s"
    bare.label, bare.unit, bare.baseline = "bare aiohttp loop (no encryption)", "pushes/s", True
    params = {
        "pushes_per_side": pushes,
        "concurrency": CONCURRENCY,
        "body_bytes": figures["body_bytes"],
    }
    sender.params = bare.params = params
    ratio = harness.ratio_value(sender.rate or 0.0, bare.rate or 0.0)
    per_push_us = 1e6 / sender.rate if sender.rate else float("nan")
    sender.values.update(
        {
            "ratio_to_bare": ratio,
            "added_share": 1.0 - ratio,
            "encrypt_us": figures["encrypt_us"],
            "encryption_share": figures["encrypt_us"] / per_push_us,
        }
    )
    check = harness.absolute(
        sender,
        "rate",
        ">=",
        TARGET_PER_S,
        "pushes/s",
        note=(
            f"bare loop {bare.rate or 0:,.0f}/s, ratio {ratio:.2f}; "
            f"{sender.values['cpu_us_per_push']:.0f} µs CPU per push; encrypt() "
            f"{figures['encrypt_us']:.0f} µs = {sender.values['encryption_share']:.0%} of "
            "a push's time"
        ),
    )
    return [bare, sender, check]


async def benchmark(ctx: harness.Context, quick: bool) -> list[harness.Record]:
    """`bench.run` entry point (bench.harness convention)."""
    pushes = QUICK_PUSHES if quick else FULL_PUSHES
    return records(await measure(pushes, ctx.log), pushes)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--drive", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pushes", type=int, default=FULL_PUSHES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.drive is not None:
        import uvloop

        print(json.dumps(uvloop.run(drive(args.drive, args.pushes))))
        return
    pushes = QUICK_PUSHES if args.quick else FULL_PUSHES
    for record in records(asyncio.run(measure(pushes)), pushes):
        print(json.dumps(harness.to_json(record)))


if __name__ == "__main__":
    main()
