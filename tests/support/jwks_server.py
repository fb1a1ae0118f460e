"""An OpenID provider's JWKS endpoint for tests, on loopback, with its signing keys.

`JwksServer` serves `GET /jwks.json` (its `url`) from `published` — the public halves of
the `SigningKey`s a test put there, changeable at any moment (key rotation) — and counts
the requests in `fetches`, so tests can see when Herald refreshed the set. A
`SigningKey` (RS256 or ES256, with its `kid`) signs tokens like the provider would;
`hand_made` forges the tokens no provider would sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://id.example"
AUDIENCE = "herald-web"


@dataclass
class SigningKey:
    """A provider key pair: `sign` makes tokens, `public_jwk` is what the JWKS lists."""

    algorithm: str  # "RS256" or "ES256"
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    private: Any = None

    def __post_init__(self) -> None:
        if self.private is None:
            self.private = (
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                if self.algorithm == "RS256"
                else ec.generate_private_key(ec.SECP256R1())
            )

    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        codec = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        jwk: dict[str, Any] = codec.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid, **header}
        )


def provider_claims(sub: str, ttl_s: int = 600, **overrides: Any) -> dict[str, Any]:
    """An access token's claims as the test provider issues them (issuer, audience)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl_s,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token no JWT library would make: `alg: none` (no key), or HS256 keyed with
    public material (a PEM, a JWK) — the algorithm-confusion forgeries."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256) if hmac_key else None
    return f"{signing_input}.{_b64(mac.digest() if mac else b'')}"


class JwksServer:
    """`async with JwksServer(key, …) as server:` serves the keys' public halves."""

    def __init__(self, *keys: SigningKey) -> None:
        self.published: list[SigningKey] = list(keys)
        # Extra raw JWKS entries listed after the published keys (e.g. an `oct` secret).
        self.extra_entries: list[dict[str, Any]] = []
        self.fetches = 0
        self._runner: web.AppRunner | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/jwks.json"

    async def __aenter__(self) -> JwksServer:
        app = web.Application()
        app.router.add_get("/jwks.json", self._jwks)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _jwks(self, _: web.Request) -> web.Response:
        self.fetches += 1
        keys = [key.public_jwk() for key in self.published] + self.extra_entries
        return web.Response(text=json.dumps({"keys": keys}), content_type="application/json")
