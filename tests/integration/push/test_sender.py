"""PushSender against the test push receiver, over real sockets on loopback.

The receiver verifies VAPID and decrypts every message independently of the sender's
code, so "delivered" here means a device would have read the payload. Nothing here
needs Kafka or Postgres.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import REGISTRY

from services.push.sender import Outcome, PushSender, Subscription
from shared.push.vapid import application_server_key
from tests.support.push_receiver import HANG, PushReceiver, Reply, b64url_decode, b64url_encode

CONTACT = "mailto:ops@example.org"
PAYLOAD = {
    "type": "post",
    "channel_id": "0b7f3c8e-6d0a-4f59-9a8e-3a1c2f7b9d10",
    "channel_name": "Match day",
    "post_id": "0190b1c2-7d3e-7f00-8000-000000000001",
    "seq": 42,
    "preview": "Kick-off moved to 15:30 — gates open at 14:00",
    "priority": "normal",
    "expires_at": "2026-12-04T12:00:00Z",
}
# As the push service sets it: base64url of the channel id's 16 bytes, 22 characters.
TOPIC = b64url_encode(uuid.UUID(str(PAYLOAD["channel_id"])).bytes)


def subscription(data: dict[str, Any]) -> Subscription:
    """A row as the feed would store it, from the browser's PushSubscription.toJSON()."""
    return Subscription(
        subscription_id=uuid.uuid4(),
        endpoint=data["endpoint"],
        p256dh=b64url_decode(data["keys"]["p256dh"]),
        auth=b64url_decode(data["keys"]["auth"]),
    )


@pytest.fixture
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def receiver(vapid_key: ec.EllipticCurvePrivateKey) -> AsyncIterator[PushReceiver]:
    async with PushReceiver(application_server_key(vapid_key)) as started:
        yield started


@pytest.fixture
async def make_sender(
    vapid_key: ec.EllipticCurvePrivateKey,
) -> AsyncIterator[Callable[..., PushSender]]:
    """Started senders with the test key (http and loopback allowed unless told), closed
    after the test. Retries wait 10 ms unless a Retry-After says otherwise."""
    made: list[PushSender] = []

    def make(**tunables: Any) -> PushSender:
        options: dict[str, Any] = {"allow_insecure": True, "backoff_base_s": 0.01, **tunables}
        sender = PushSender(vapid_key=vapid_key, contact=CONTACT, **options)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        await sender.close()


async def started(sender: PushSender) -> PushSender:
    await sender.start()
    return sender


async def send(sender: PushSender, sub: Subscription, **headers: Any) -> Outcome:
    options: dict[str, Any] = {"ttl_s": 3600, "urgency": "normal", "topic": TOPIC, **headers}
    return await sender.send(sub, json.dumps(PAYLOAD).encode(), **options)


def delivered_count() -> float:
    labels = {"host": "other", "outcome": "delivered"}
    return REGISTRY.get_sample_value("herald_push_sends_total", labels) or 0.0


async def test_delivered_payload_decrypts_with_verified_vapid_and_the_given_headers(
    receiver: PushReceiver, make_sender: Callable[..., PushSender]
) -> None:
    sender = await started(make_sender())
    phone = subscription(receiver.new_subscription("phone"))
    delivered_before = delivered_count()

    assert await send(sender, phone, ttl_s=86_400, urgency="normal", topic=TOPIC) == (
        Outcome.DELIVERED
    )
    assert await send(sender, phone, ttl_s=600, urgency="high", topic=None) == (Outcome.DELIVERED)

    assert [a.error for a in receiver.attempts] == [None, None]  # VAPID and TTL checked
    first, second = receiver.received_by("phone")
    assert first.json() == PAYLOAD and second.json() == PAYLOAD
    assert (first.ttl, first.urgency, first.topic) == (86_400, "normal", TOPIC)
    assert (second.ttl, second.urgency, second.topic) == (600, "high", None)
    assert delivered_count() - delivered_before == 2  # by a fixed host label, not the host


async def test_a_sender_with_another_vapid_key_is_refused_by_the_push_service(
    receiver: PushReceiver, make_sender: Callable[..., PushSender]
) -> None:
    impostor = PushSender(
        vapid_key=ec.generate_private_key(ec.SECP256R1()), contact=CONTACT, allow_insecure=True
    )
    await impostor.start()
    try:
        phone = subscription(receiver.new_subscription("phone"))
        assert await send(impostor, phone) == Outcome.FAILED
    finally:
        await impostor.close()
    assert receiver.received == []
    assert receiver.attempts[0].status == 403


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(410, Outcome.GONE), (404, Outcome.GONE), (413, Outcome.TOO_LARGE), (400, Outcome.FAILED)],
)
async def test_final_answers_are_not_retried(
    receiver: PushReceiver,
    make_sender: Callable[..., PushSender],
    status: int,
    outcome: Outcome,
) -> None:
    sender = await started(make_sender())
    phone = subscription(receiver.new_subscription("phone"))
    receiver.set_replies("phone", then=Reply(status))

    assert await send(sender, phone) == outcome
    assert [a.status for a in receiver.attempts] == [status]


async def test_429_is_retried_after_its_retry_after_then_delivered(
    receiver: PushReceiver, make_sender: Callable[..., PushSender]
) -> None:
    sender = await started(make_sender())
    phone = subscription(receiver.new_subscription("phone"))
    receiver.set_replies("phone", Reply(429, retry_after="1"))

    assert await send(sender, phone) == Outcome.DELIVERED

    refused, accepted = receiver.attempts_at("phone")
    assert (refused.status, accepted.status) == (429, 201)
    assert accepted.at - refused.at >= 1.0  # not before the push service asked
    assert [m.json() for m in receiver.received_by("phone")] == [PAYLOAD]


async def test_500_is_retried_up_to_the_bound_then_failed(
    receiver: PushReceiver, make_sender: Callable[..., PushSender]
) -> None:
    sender = await started(make_sender(max_attempts=3))
    phone = subscription(receiver.new_subscription("phone"))
    receiver.set_replies("phone", then=Reply(500))

    assert await send(sender, phone) == Outcome.FAILED
    assert [a.status for a in receiver.attempts] == [500, 500, 500]
    assert receiver.received == []


async def test_a_failing_host_opens_its_breaker_and_is_no_longer_contacted(
    receiver: PushReceiver, make_sender: Callable[..., PushSender]
) -> None:
    sender = await started(make_sender(max_attempts=1, breaker_failures=2, breaker_open_s=600))
    phone = subscription(receiver.new_subscription("phone"))
    receiver.set_replies("phone", then=Reply(503))

    outcomes = [await send(sender, phone) for _ in range(4)]

    assert outcomes == [Outcome.FAILED] * 4
    assert len(receiver.attempts) == 2  # the breaker answered the last two itself


async def test_a_redirect_is_not_followed(
    receiver: PushReceiver, make_sender: Callable[..., PushSender]
) -> None:
    sender = await started(make_sender())
    phone = subscription(receiver.new_subscription("phone"))
    receiver.new_subscription("elsewhere")
    receiver.set_replies("phone", then=Reply(307, location=receiver.endpoint("elsewhere")))

    assert await send(sender, phone) == Outcome.FAILED
    assert [a.name for a in receiver.attempts] == ["phone"]


async def test_a_hanging_host_does_not_delay_another_hosts_pushes(
    vapid_key: ec.EllipticCurvePrivateKey, make_sender: Callable[..., PushSender]
) -> None:
    key = application_server_key(vapid_key)
    async with PushReceiver(key) as hanging, PushReceiver(key) as healthy:
        # Long timeouts: the hanging pushes end only when the hanging host lets go.
        sender = await started(
            make_sender(per_host_concurrency=2, max_attempts=1, request_timeout_s=120)
        )
        stuck = subscription(hanging.new_subscription("stuck"))
        hanging.set_replies("stuck", then=HANG)
        fine = subscription(healthy.new_subscription("fine"))

        # Three pushes to the hanging host: two hold both of its slots, one waits for one.
        stuck_sends = [asyncio.create_task(send(sender, stuck)) for _ in range(3)]
        await hanging.wait_for_attempts("stuck", 2)

        assert await send(sender, fine) == Outcome.DELIVERED
        assert not any(task.done() for task in stuck_sends)
        assert [m.json() for m in healthy.received_by("fine")] == [PAYLOAD]

        await hanging.close()  # the hung requests are answered 503 (or dropped)
        assert await asyncio.gather(*stuck_sends) == [Outcome.FAILED] * 3


class ConnectionCounter:
    """A TCP listener on loopback that counts the connections reaching it."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ConnectionCounter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/push/x",  # not https
        "https://127.0.0.1:{port}/push/x",  # loopback literal
        "https://localhost:{port}/push/x",  # a name resolving to loopback
        "https://[::ffff:127.0.0.1]:{port}/push/x",  # IPv4-mapped loopback
    ],
)
async def test_in_production_an_insecure_or_internal_endpoint_is_refused_unconnected(
    receiver: PushReceiver, make_sender: Callable[..., PushSender], url: str
) -> None:
    keys = receiver.new_subscription("x")["keys"]
    async with ConnectionCounter() as counter:
        endpoint = url.format(port=counter.port)
        sub = subscription({"endpoint": endpoint, "keys": keys})
        production = await started(make_sender(allow_insecure=False))
        assert await send(production, sub) == Outcome.REFUSED
        assert counter.connections == 0

        # The same endpoint where insecure endpoints are allowed does get a connection,
        # so the count above can tell.
        development = await started(make_sender(allow_insecure=True, max_attempts=1))
        if not url.startswith("https://[::ffff:"):
            assert await send(development, sub) == Outcome.FAILED
            assert counter.connections >= 1


def tls_contexts(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for `localhost`, and a client
    context that trusts only it (host names verified)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


async def test_a_named_https_host_is_reached_at_its_checked_address_under_its_own_name(
    vapid_key: ec.EllipticCurvePrivateKey,
    make_sender: Callable[..., PushSender],
    tmp_path: Path,
) -> None:
    # "localhost" goes through the sender's resolver (a literal would not); the
    # certificate is verified for the name and the Host header keeps it, while the
    # connection goes to the address that was checked.
    server_tls, client_tls = tls_contexts(tmp_path)
    key = application_server_key(vapid_key)
    async with PushReceiver(key, host="localhost", ssl_context=server_tls) as receiver:
        sender = await started(make_sender(ssl_context=client_tls))
        phone = subscription(receiver.new_subscription("phone"))
        assert phone.endpoint.startswith("https://localhost:")

        assert await send(sender, phone) == Outcome.DELIVERED

        (attempt,) = receiver.attempts
        assert attempt.error is None  # VAPID aud = https://localhost:<port>
        assert attempt.host == f"localhost:{receiver.port}"
        assert [m.json() for m in receiver.received_by("phone")] == [PAYLOAD]

        untrusting = await started(make_sender(max_attempts=1))  # the system's CAs only
        assert await send(untrusting, phone) == Outcome.FAILED
        assert len(receiver.attempts) == 1
