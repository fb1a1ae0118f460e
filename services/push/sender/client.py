"""PushSender: one Web Push request per subscription, encrypted, signed, bounded.

`send` encrypts the payload (RFC 8291), adds the VAPID header (RFC 8292) and POSTs it
(RFC 8030) over a shared aiohttp session, and says how it ended (`Outcome`). On the way:

- the endpoint's form is checked (`parse_endpoint`) at every send and its host resolved
  and every address checked (`resolve_allowed`), at most `check_ttl_s` before; the
  connection goes to one of those checked addresses (CheckedResolver), never to a fresh
  DNS answer, and no redirect is followed, so an endpoint can never point the sender
  into our network;
- per host (scheme + host + port) at most `per_host_concurrency` requests are in
  flight, and a circuit breaker stops sending to a host that keeps failing; nothing is
  shared between hosts but the event loop and `max_connections`, so a host that hangs
  delays only its own pushes (each request ends after `request_timeout_s`);
- 429 and 5xx answers, timeouts and connection failures are retried, at most
  `max_attempts` requests in all, after the `Retry-After` the host asked for (seconds or
  HTTP-date; longer than `max_retry_wait_s` gives up) or a jittered backoff. A send
  keeps its host slot while it waits, so a host asking to slow down gets fewer requests.

Metrics: shared.metrics.push (`host` label from a fixed list plus `other`). Nothing
here logs or labels an endpoint, subscription or payload.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import time

import aiohttp
from cryptography.hazmat.primitives.asymmetric import ec

from services.push.sender.encryption import BadSubscriptionKeys, PayloadTooLarge, encrypt
from services.push.sender.hosts import HostState, HostTable
from services.push.sender.meters import METERS, HostMeters
from services.push.sender.model import Outcome, Subscription
from services.push.sender.resolver import CHECK_TTL_S, CheckedResolver
from services.push.sender.retry import RETRY_STATUSES, next_wait_s
from services.push.sender.vapid import VapidSigner
from shared.metrics import push as metrics
from shared.push.endpoints import EndpointRefused, parse_endpoint

URGENCIES = frozenset({"very-low", "low", "normal", "high"})
# RFC 8030 §5.4: a Topic is at most 32 characters of the URL-safe base64 alphabet.
_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")
# A push service answers with an empty or tiny body. A body is read (so the connection
# can be reused) only when it declares a length up to this; any other is left unread
# and its connection dropped, rather than draining an endpoint that keeps talking.
_MAX_RESPONSE_BYTES = 64 * 1024


class PushSender:
    """Sends Web Push messages; `start` before the first `send`, `close` at the end.

    Tunables (defaults in brackets): `per_host_concurrency` requests in flight per host
    [32]; `max_hosts` hosts remembered, least recently used forgotten [10,000];
    `max_connections` open connections in all [1,024]; `connect_timeout_s` [5] and
    `request_timeout_s` (whole request, response status and body) [10]; `max_attempts`
    requests per send [3]; `backoff_base_s` [0.5] and `backoff_cap_s` [10] without a
    Retry-After; `max_retry_wait_s` the longest Retry-After honoured [30];
    `breaker_failures` consecutive failures that open a host's breaker [5] for
    `breaker_open_s` [30]; `check_ttl_s` how long a host's checked addresses are
    reused before the next send resolves and checks again [30]; `ssl_context` the TLS
    settings and trusted CAs [None: the system's, verifying host names]."""

    def __init__(
        self,
        *,
        vapid_key: ec.EllipticCurvePrivateKey,
        contact: str,
        allow_insecure: bool,
        per_host_concurrency: int = 32,
        max_hosts: int = 10_000,
        max_connections: int = 1024,
        connect_timeout_s: float = 5.0,
        request_timeout_s: float = 10.0,
        max_attempts: int = 3,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 10.0,
        max_retry_wait_s: float = 30.0,
        breaker_failures: int = 5,
        breaker_open_s: float = 30.0,
        check_ttl_s: float = CHECK_TTL_S,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_attempts < 1 or per_host_concurrency < 1:
            raise ValueError("max_attempts and per_host_concurrency are at least 1")
        self._vapid = VapidSigner(vapid_key, contact, max_origins=max_hosts)
        self._allow_insecure = allow_insecure
        self._hosts = HostTable(
            max_hosts=max_hosts,
            concurrency=per_host_concurrency,
            failure_threshold=breaker_failures,
            open_s=breaker_open_s,
        )
        self._max_hosts = max_hosts
        self._check_ttl_s = check_ttl_s
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s, connect=connect_timeout_s)
        self._max_attempts = max_attempts
        self._backoff_base_s = backoff_base_s
        self._backoff_cap_s = backoff_cap_s
        self._max_retry_wait_s = max_retry_wait_s
        self._rng = random.Random()  # noqa: S311 (retry jitter: nothing secret depends on it)
        self._resolver: CheckedResolver | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the HTTP session (connection pool); idempotent."""
        if self._session is not None:
            return
        self._resolver = CheckedResolver(
            allow_insecure=self._allow_insecure,
            max_hosts=self._max_hosts,
            ttl_s=self._check_ttl_s,
        )
        connector = aiohttp.TCPConnector(
            resolver=self._resolver,
            # Every connection must go through the resolver, i.e. to a checked address.
            use_dns_cache=False,
            limit=self._max_connections,
            # Per-host limits are HostTable's slots, which also cover the waits between
            # retries; the connector's would only count open connections.
            limit_per_host=0,
            # Certificates are verified against the endpoint's host name (also the SNI
            # and Host), whatever address the connection went to.
            ssl=self._ssl_context if self._ssl_context is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,  # never through a proxy from the environment
        )

    async def close(self) -> None:
        """Close the session and its connections; sends in flight fail."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def application_server_key(self) -> str:
        """The VAPID public key every request carries (`k=`), base64url."""
        return self._vapid.public_key

    async def send(
        self,
        sub: Subscription,
        payload: bytes,
        *,
        ttl_s: int,
        urgency: str,
        topic: str | None,
    ) -> Outcome:
        """Deliver `payload` to `sub`'s push service; never raises for anything the
        endpoint or the network does (that is the outcome), only for a caller's error
        (`ttl_s` < 0, an unknown `urgency`, a malformed `topic`, not started).

        Blocks up to about max_attempts x request_timeout_s plus the retry waits, and
        while the host's concurrency slots are all taken."""
        if ttl_s < 0:
            raise ValueError("ttl_s must be >= 0")
        if urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {sorted(URGENCIES)}")
        if topic is not None and not _TOPIC.fullmatch(topic):
            raise ValueError("topic must be 1-32 base64url characters (RFC 8030 §5.4)")
        if self._session is None or self._resolver is None:
            raise RuntimeError("PushSender.send before start()")
        try:
            endpoint = parse_endpoint(sub.endpoint, allow_insecure=self._allow_insecure)
        except EndpointRefused:
            return _finish(METERS["other"], Outcome.REFUSED)
        host = self._hosts.get(endpoint.scheme, endpoint.host, endpoint.port)
        meters = METERS[host.label]
        try:
            body = encrypt(payload, sub.p256dh, sub.auth)
        except PayloadTooLarge:
            return _finish(meters, Outcome.TOO_LARGE)
        except BadSubscriptionKeys:
            return _finish(meters, Outcome.FAILED)
        headers = {
            "TTL": str(ttl_s),
            "Urgency": urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self._vapid.authorization(endpoint.origin),
        }
        if topic is not None:
            headers["Topic"] = topic
        async with host.slots:
            outcome = await self._deliver(
                host, endpoint.url, endpoint.host, endpoint.port, headers, body
            )
        return _finish(meters, outcome)

    async def _deliver(
        self,
        host: HostState,
        url: str,
        hostname: str,
        port: int,
        headers: dict[str, str],
        body: bytes,
    ) -> Outcome:
        """The attempts of one send, holding one of the host's slots."""
        assert self._resolver is not None
        meters = METERS[host.label]
        try:
            await self._resolver.check(hostname, port)
        except EndpointRefused:
            return Outcome.REFUSED
        for attempt in range(1, self._max_attempts + 1):
            if not host.breaker.allow():
                return Outcome.FAILED
            try:
                status, retry_after = await self._post(meters, url, headers, body)
            except BaseException:
                host.breaker.abandon()  # cancelled: a half-open probe must not stay taken
                raise
            self._judge_host(host, status)
            if status is not None and 200 <= status < 300:
                return Outcome.DELIVERED
            if status in (404, 410):
                return Outcome.GONE
            if status == 413:
                return Outcome.TOO_LARGE
            if status is not None and status not in RETRY_STATUSES:
                return Outcome.FAILED  # 3xx (never followed) and other 4xx: final
            if attempt == self._max_attempts:
                break
            wait = next_wait_s(
                attempt,
                retry_after,
                base_s=self._backoff_base_s,
                cap_s=self._backoff_cap_s,
                max_wait_s=self._max_retry_wait_s,
                rng=self._rng,
            )
            if wait is None:
                break
            meters.retries.inc()
            await asyncio.sleep(wait)
        return Outcome.FAILED

    def _judge_host(self, host: HostState, status: int | None) -> None:
        """Feed the host's breaker: no answer or a 5xx is a failure, any other answer
        shows the host works."""
        was_open = host.breaker.is_open
        if status is None or status >= 500:
            if host.breaker.failure():
                METERS[host.label].breaker_opened.inc()
        else:
            host.breaker.success()
        if was_open != host.breaker.is_open:
            metrics.PUSH_BREAKERS_OPEN.set(self._hosts.open_count())

    async def _post(
        self, meters: HostMeters, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int | None, str | None]:
        """One request: (status, Retry-After header), or (None, None) when it timed out
        or the connection failed."""
        assert self._session is not None
        started = time.perf_counter()
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                meters.request_seconds.observe(time.perf_counter() - started)
                length = response.content_length
                if length is not None and length <= _MAX_RESPONSE_BYTES:
                    await response.read()  # drained, so the connection can be reused
        except (aiohttp.ClientError, TimeoutError, OSError):
            meters.request(None)
            return None, None
        meters.request(status)
        return status, retry_after


def _finish(meters: HostMeters, outcome: Outcome) -> Outcome:
    meters.sends[outcome].inc()
    return outcome
