"""An OpenID provider's signing keys, fetched from its JWKS URL and cached.

`JwksKeys.get(kid)` answers the public key a token names in its header. The set is
fetched (async httpx, bounded time and size, no redirects) at first use, again once it
is older than `max_age_s`, and again when a token names a key id the cache lacks — the
provider rotated its keys — but at most once per `cooldown_s`, whatever the reason, so a
flood of tokens with made-up key ids costs one request to the provider per cooldown.

Only asymmetric signing keys are kept: RSA for RS256 and P-256 EC for ES256, each bound
to its one algorithm. A JWKS entry of type `oct` (an HMAC secret) or claiming any other
algorithm is skipped, so a token can never be verified as HS256 with a key that was
published as public (algorithm confusion), nor with `none`.

A failed fetch keeps the keys already known (a provider outage does not log everyone
out) and counts toward the cooldown. Never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import httpx
import orjson
from jwt import PyJWK, PyJWTError

log = logging.getLogger(__name__)

# The algorithms a JWKS key may verify, by key type. Never HS* (a JWKS is public).
JWKS_ALGORITHMS = frozenset({"RS256", "ES256"})
_ALGORITHM_OF_KTY = {"RSA": "RS256", "EC": "ES256"}
# Real providers publish a few keys in a few KiB (certificate chains included); anything
# far larger is a misconfiguration or an attack on our memory.
MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 100
KID_MAX = 256
# One fetch, connection to last byte.
FETCH_TIMEOUT_S = 5.0
# Unknown-kid refreshes at most this often (the figure `jose`'s remote JWKS uses).
COOLDOWN_S = 30.0
# Keys a provider withdrew stop verifying within this long.
MAX_AGE_S = 600.0


class JwksUnavailable(Exception):
    """No key has ever been fetched: the provider did not answer with a usable set."""


def parse_jwks(document: object) -> dict[str, PyJWK]:
    """The usable signing keys of a JWKS document by `kid`; ValueError when it is not a
    JWKS at all. Keys without a `kid`, not for signing, of another type or algorithm,
    or malformed are skipped (a provider may list encryption keys beside them)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set: no 'keys' list")
    keys: dict[str, PyJWK] = {}
    for entry in document["keys"][:MAX_KEYS]:
        key = _signing_key(entry)
        if key is not None and key.key_id is not None:
            keys[key.key_id] = key
    return keys


def _signing_key(entry: object) -> PyJWK | None:
    if not isinstance(entry, Mapping):
        return None
    kid, kty = entry.get("kid"), entry.get("kty")
    if not isinstance(kid, str) or not 1 <= len(kid) <= KID_MAX or kty not in _ALGORITHM_OF_KTY:
        return None
    if entry.get("use", "sig") != "sig":
        return None
    algorithm = _ALGORITHM_OF_KTY[kty]
    if entry.get("alg", algorithm) != algorithm:
        return None
    if kty == "EC" and entry.get("crv") != "P-256":
        return None
    try:
        # The algorithm is bound here: PyJWT then refuses a token whose header names another.
        return PyJWK(dict(entry), algorithm=algorithm)
    except PyJWTError:
        return None


class JwksKeys:
    """The cached key set of one JWKS URL. Safe to share between concurrent requests:
    one fetch at a time, and requests that waited for it reuse its result."""

    def __init__(
        self,
        url: str,
        *,
        cooldown_s: float = COOLDOWN_S,
        max_age_s: float = MAX_AGE_S,
        timeout_s: float = FETCH_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._cooldown_s = cooldown_s
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._keys: dict[str, PyJWK] = {}
        self._loaded = False
        self._fetched_at: float | None = None  # last success
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> PyJWK | None:
        """The key named `kid`, or None when the provider does not list it (even after a
        refresh, when the cooldown allows one). Raises JwksUnavailable when no set could
        ever be fetched."""
        key = self._keys.get(kid)
        # A known key serves while a refresh is under way: only unknown kids wait for it.
        if key is not None and (not self._stale() or self._lock.locked()):
            return key
        async with self._lock:
            # Another request may have refreshed while this one waited.
            key = self._keys.get(kid)
            if (key is None or self._stale()) and self._may_fetch():
                await self._refresh()
            key = self._keys.get(kid)
        if key is None and not self._loaded:
            raise JwksUnavailable("the token issuer's keys could not be fetched")
        return key

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age_s

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._cooldown_s

    async def _refresh(self) -> None:
        self._attempted_at = self._clock()
        try:
            keys = parse_jwks(orjson.loads(await self._download()))
        except (httpx.HTTPError, TimeoutError, ValueError) as exc:
            # ValueError covers orjson's decode error; the old keys stay in use.
            log.warning("JWKS fetch failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return
        if not keys:
            log.warning("JWKS holds no usable RS256/ES256 signing key; keeping the old ones")
            return
        self._keys = keys
        self._loaded = True
        self._fetched_at = self._clock()

    async def _download(self) -> bytes:
        async with (
            asyncio.timeout(self._timeout_s),
            httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as client,
            client.stream("GET", self._url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise ValueError(f"JWKS answered {response.status_code}")
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > MAX_JWKS_BYTES:
                raise ValueError("JWKS too large")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError("JWKS too large")
            return bytes(body)
