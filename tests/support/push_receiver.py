"""A push service for tests: RFC 8030 requests on loopback, checked and decrypted.

`PushReceiver` listens on 127.0.0.1 (a port of its own: one receiver is one push-service
host) and behaves like the push service a browser subscribed through:

- `new_subscription(name)` makes a subscription the way a user agent does (a fresh P-256
  key pair and 16-byte auth secret) and returns it in `PushSubscription.toJSON()` shape;
  its endpoint is `http://127.0.0.1:<port>/push/<name>`;
- every `POST /push/<name>` is checked like a push service checks it: a VAPID
  (RFC 8292) `Authorization: vapid t=…, k=…` whose key is the application server key the
  receiver was given (the one `GET /v1/push/key` returns) and whose JWT is signed by it,
  with `aud` = this receiver's origin, `exp` in the future and at most 24 hours ahead,
  and `sub` present; a `TTL` header; `Content-Encoding: aes128gcm`; a body of at most
  4096 bytes, which is then **decrypted** with the subscription's private key (RFC 8291,
  RFC 8188). This decryption is written independently of the sender's encryption code,
  so a test that reads a payload here checks the sender;
- each request is recorded as an `Attempt` (what was checked, how it was answered), and
  each one answered 2xx as a `Received` message (name, TTL, Urgency, Topic, plaintext);
- per subscription, `set_replies(name, *replies, then=…)` scripts the answers: the given
  replies in order, one per request, then `then` for all later ones (default: 201).
  A `Reply` is a status (410, 404, 413, 429 with `Retry-After`, 500, a redirect with
  `Location`…) or `HANG`, which never answers (until the receiver closes, then 503).
A request that fails a check is answered 400/401/403/404/413 and recorded with its
`error`; it is never a `Received`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
import struct
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

MAX_BODY = 4096
MAX_VAPID_LIFETIME_S = 24 * 3600


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DecryptionError(ValueError):
    """The body is not a valid aes128gcm message for this subscription's keys."""


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """The plaintext of a Web Push message: the user agent's side of RFC 8291 §3.4 over
    the RFC 8188 `aes128gcm` coding (any number of records, padding removed).

    Raises DecryptionError for a malformed header, a key id that is not a P-256 point,
    a record that does not authenticate, or bad delimiters/padding."""
    if len(body) < 21:
        raise DecryptionError("shorter than the aes128gcm header")
    salt = body[:16]
    (record_size,) = struct.unpack("!I", body[16:20])
    id_length = body[20]
    key_id = body[21 : 21 + id_length]
    records = body[21 + id_length :]
    if record_size < 18 or len(key_id) != id_length:
        raise DecryptionError("bad header")
    try:
        as_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_id)
    except ValueError as exc:
        raise DecryptionError("key id is not a P-256 point") from exc
    ua_public = ua_private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    shared_secret = ua_private.exchange(ec.ECDH(), as_public)
    # RFC 8291 §3.4: IKM from the ECDH secret, salted with the auth secret and bound to
    # both public keys; then RFC 8188 §2.2 derives the key and nonce from the salt.
    key_info = b"WebPush: info\x00" + ua_public + key_id
    ikm = _hkdf(auth_secret, shared_secret, key_info, 32)
    cek = _hkdf(salt, ikm, b"Content-Encoding: aes128gcm\x00", 16)
    base_nonce = int.from_bytes(_hkdf(salt, ikm, b"Content-Encoding: nonce\x00", 12), "big")
    if not records:
        raise DecryptionError("no record")
    chunks = [records[i : i + record_size] for i in range(0, len(records), record_size)]
    plaintext = bytearray()
    for seq, chunk in enumerate(chunks):
        nonce = (base_nonce ^ seq).to_bytes(12, "big")
        try:
            padded = AESGCM(cek).decrypt(nonce, chunk, None)
        except Exception as exc:  # InvalidTag, or a chunk shorter than a tag
            raise DecryptionError(f"record {seq} does not authenticate") from exc
        content = padded.rstrip(b"\x00")
        last = seq == len(chunks) - 1
        if not content or content[-1] != (2 if last else 1):
            raise DecryptionError(f"record {seq}: bad delimiter")
        plaintext += content[:-1]
    return bytes(plaintext)


@dataclass(frozen=True)
class Reply:
    """How to answer one request: a status (with `Retry-After` and `Location` when set),
    or hang."""

    status: int = 201
    retry_after: str | None = None
    location: str | None = None
    hang: bool = False


DELIVER = Reply(201)
HANG = Reply(hang=True)


@dataclass(frozen=True)
class Received:
    """A message the receiver accepted (answered 2xx), decrypted."""

    name: str
    ttl: int
    urgency: str | None
    topic: str | None
    plaintext: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.plaintext)


@dataclass(frozen=True)
class Attempt:
    """One request as it arrived: `status` answered (None: hung), `error` when a check
    failed (then nothing was decrypted), its `Host` header."""

    name: str
    status: int | None
    error: str | None
    at: float  # time.monotonic() on arrival
    host: str = ""


@dataclass
class _Device:
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    replies: list[Reply] = field(default_factory=list)
    then: Reply = DELIVER


class PushReceiver:
    """See the module docstring. `async with PushReceiver(key) as receiver: …`."""

    def __init__(
        self,
        application_server_key: str,
        *,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
        max_vapid_lifetime_s: int = MAX_VAPID_LIFETIME_S,
    ) -> None:
        """`host` is the name endpoints use (it listens on 127.0.0.1 whatever the name:
        "localhost" makes senders resolve it); with `ssl_context` it speaks https."""
        self.application_server_key = application_server_key
        self.host = host
        self.ssl_context = ssl_context
        self.max_vapid_lifetime_s = max_vapid_lifetime_s
        self.received: list[Received] = []
        self.attempts: list[Attempt] = []
        self._devices: dict[str, _Device] = {}
        self._changed = asyncio.Condition()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> PushReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY + 1)
        app.router.add_post("/push/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop listening; requests left hanging are answered 503 first."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def new_subscription(self, name: str) -> dict[str, Any]:
        """A fresh device: `PushSubscription.toJSON()` of a new key pair and auth secret."""
        key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        self._devices[name] = _Device(key, auth)
        public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "endpoint": self.endpoint(name),
            "expirationTime": None,
            "keys": {"p256dh": b64url_encode(public), "auth": b64url_encode(auth)},
        }

    def set_replies(self, name: str, *replies: Reply, then: Reply = DELIVER) -> None:
        """Answer `name`'s next requests with `replies` in order, then with `then`."""
        device = self._devices[name]
        device.replies = list(replies)
        device.then = then

    def received_by(self, name: str) -> list[Received]:
        return [message for message in self.received if message.name == name]

    def attempts_at(self, name: str) -> list[Attempt]:
        return [attempt for attempt in self.attempts if attempt.name == name]

    async def wait_for_attempts(self, name: str, count: int, timeout_s: float = 15.0) -> None:
        """Until `count` requests for `name` have arrived (TimeoutError after timeout_s)."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: len(self.attempts_at(name)) >= count)

    async def _record(self, item: Attempt | Received) -> None:
        if isinstance(item, Attempt):
            self.attempts.append(item)
        else:
            self.received.append(item)
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        name = request.match_info["name"]
        body = await request.read()
        device = self._devices.get(name)
        if device is None:
            return await self._refuse(request, arrived, 404, "no such subscription")
        error = self._check_vapid(request.headers.get("Authorization", ""))
        if error is not None:
            return await self._refuse(request, arrived, 401 if "missing" in error else 403, error)
        ttl = request.headers.get("TTL", "")
        if not ttl.isdigit():
            return await self._refuse(request, arrived, 400, "TTL missing")
        if request.headers.get("Content-Encoding") != "aes128gcm":
            return await self._refuse(request, arrived, 400, "not aes128gcm")
        if len(body) > MAX_BODY:
            return await self._refuse(request, arrived, 413, "body over 4096 bytes")
        try:
            plaintext = decrypt(body, device.private_key, device.auth)
        except DecryptionError as exc:
            return await self._refuse(request, arrived, 400, f"decryption: {exc}")
        reply = device.replies.pop(0) if device.replies else device.then
        if reply.hang:
            await self._record(Attempt(name, None, None, arrived, request.host))
            await self._release.wait()
            return web.Response(status=503)
        await self._record(Attempt(name, reply.status, None, arrived, request.host))
        if 200 <= reply.status < 300:
            message = Received(
                name=name,
                ttl=int(ttl),
                urgency=request.headers.get("Urgency"),
                topic=request.headers.get("Topic"),
                plaintext=plaintext,
                at=arrived,
            )
            await self._record(message)
            return web.Response(status=reply.status, headers={"Location": f"/m/{uuid.uuid4()}"})
        headers = {}
        if reply.retry_after is not None:
            headers["Retry-After"] = reply.retry_after
        if reply.location is not None:
            headers["Location"] = reply.location
        return web.Response(status=reply.status, headers=headers)

    async def _refuse(
        self, request: web.Request, arrived: float, status: int, error: str
    ) -> web.StreamResponse:
        name = request.match_info["name"]
        await self._record(Attempt(name, status, error, arrived, request.host))
        return web.Response(status=status, text=error)

    def _check_vapid(self, authorization: str) -> str | None:
        """Why the VAPID header is not acceptable, or None (RFC 8292 §3)."""
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return "missing vapid authorization"
        fields: dict[str, str] = {}
        for part in params.split(","):
            field_name, _, value = part.strip().partition("=")
            fields[field_name.strip()] = value.strip()
        token, key = fields.get("t", ""), fields.get("k", "")
        if not token or not key:
            return "missing t or k"
        if key != self.application_server_key:
            return "k is not the application server key"
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(
                ec.SECP256R1(), b64url_decode(key)
            )
            claims = jwt.decode(
                token,
                public,
                algorithms=["ES256"],
                audience=self.origin,
                options={"require": ["aud", "exp", "sub"]},
            )
        except (ValueError, jwt.PyJWTError) as exc:
            return f"bad token: {exc}"
        if not str(claims["sub"]).strip():
            return "empty sub"
        if int(claims["exp"]) - time.time() > self.max_vapid_lifetime_s:
            return "exp more than 24 hours ahead"
        return None
