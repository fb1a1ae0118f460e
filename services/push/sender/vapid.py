"""VAPID (RFC 8292): the `Authorization: vapid t=…, k=…` header a push service checks.

The token is a JWT signed ES256 with the application server's key, with `aud` = the push
resource's origin, `exp` at most 24 hours ahead (RFC 8292 §2) and `sub` = a contact URI.
Signing is the costly part and the header depends only on the origin, so it is cached
per origin and re-signed when less than REFRESH_BEFORE_S of its lifetime is left. The
cache is bounded (origins come from user-supplied endpoints).
"""

from __future__ import annotations

import base64
import time
from collections import OrderedDict
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# 12 hours: well inside the 24-hour maximum, so a clock a little ahead of ours at the
# push service still accepts it.
TOKEN_LIFETIME_S = 12 * 3600
REFRESH_BEFORE_S = 3600
MAX_ORIGINS = 10_000


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class VapidSigner:
    """Authorization headers for one application server key, cached per origin."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        contact: str,
        *,
        lifetime_s: int = TOKEN_LIFETIME_S,
        max_origins: int = MAX_ORIGINS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("a VAPID key is a P-256 key")
        if not 0 < lifetime_s <= 24 * 3600:
            raise ValueError("a VAPID token lives at most 24 hours (RFC 8292 §2)")
        self._key = key
        self._contact = contact
        self._lifetime_s = lifetime_s
        self._max_origins = max_origins
        self._clock = clock
        self._public_b64 = b64url(
            key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        )
        self._cache: OrderedDict[str, tuple[float, str]] = OrderedDict()

    @property
    def public_key(self) -> str:
        """The application server key (`k=`): base64url of the uncompressed point."""
        return self._public_b64

    def authorization(self, origin: str) -> str:
        """The `Authorization` header value for a push resource at `origin`
        (`scheme://host[:port]`, as a browser serialises an origin)."""
        now = self._clock()
        cached = self._cache.get(origin)
        if cached is not None and cached[0] - now > REFRESH_BEFORE_S:
            self._cache.move_to_end(origin)
            return cached[1]
        exp = int(now) + self._lifetime_s
        token = jwt.encode(
            {"aud": origin, "exp": exp, "sub": self._contact}, self._key, algorithm="ES256"
        )
        header = f"vapid t={token}, k={self._public_b64}"
        self._cache[origin] = (float(exp), header)
        self._cache.move_to_end(origin)
        while len(self._cache) > self._max_origins:
            self._cache.popitem(last=False)
        return header
