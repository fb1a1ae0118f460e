"""Bearer tokens at the service level: every forged, stale or malformed token gets 401
problem+json (with a Bearer challenge, never echoing the token) on a publisher endpoint,
an account endpoint of the feed and a public feed read; audience and issuer are enforced
when configured, and a service configured with a public key refuses HS/RS confusion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.settings import DEV_JWT_SECRET
from tests.security.world import new_account
from tests.support.processes import ServiceProcess

GHOST_CHANNEL = "/v1/channels/01900000-0000-7000-8000-000000000000"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT assembled by hand, so tests can forge what a JWT library refuses to make
    (`alg: none`, HMAC keyed with a public key)."""
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
    signature = (
        b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    )
    return f"{signing_input}.{_b64(signature)}"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": new_account("jwt"), "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = DEV_JWT_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, secret, algorithm=alg)


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def rs256(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, RSA_KEY, algorithm="RS256")


def _tampered() -> str:
    header, _, signature = hs256(claims()).split(".")
    return f"{header}.{_b64(orjson.dumps(claims(sub='someone-else')))}.{signature}"


now = int(time.time())
FORGED: dict[str, Callable[[], str]] = {
    "alg none": lambda: raw_token({"alg": "none", "typ": "JWT"}, claims(), None),
    "alg none with signature": lambda: raw_token(
        {"alg": "none"}, claims(), DEV_JWT_SECRET.encode()
    ),
    "RS256 where HS256 is configured": lambda: rs256(claims()),
    "HS384 with the right secret": lambda: hs256(claims(), alg="HS384"),
    "bad signature": lambda: hs256(claims(), secret="x" * 40),
    "tampered payload": _tampered,
    "expired": lambda: hs256(claims(iat=now - 7200, exp=now - 600)),
    "not yet valid": lambda: hs256(claims(nbf=int(time.time()) + 3600)),
    "missing sub": lambda: hs256(claims(sub=None)),
    "empty sub": lambda: hs256(claims(sub="")),
    "sub not a string": lambda: hs256(claims(sub=12345)),
    "sub too long": lambda: hs256(claims(sub="a" * 129)),
    "missing exp": lambda: hs256(claims(exp=None)),
    "garbage": lambda: "not.a.jwt",
}


async def assert_refused(http: httpx.AsyncClient, path: str, authorization: str) -> None:
    response = await http.get(path, headers={"Authorization": authorization})
    assert response.status_code == 401, (path, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    token = authorization.partition(" ")[2]
    if len(token) > 8:
        assert token not in response.text


@pytest.mark.parametrize("case", list(FORGED))
async def test_forged_tokens_are_refused_everywhere(
    case: str, publisher: ServiceProcess, feed: ServiceProcess
) -> None:
    token = FORGED[case]()
    async with httpx.AsyncClient(timeout=10) as http:
        await assert_refused(http, publisher.base_url + GHOST_CHANNEL, f"Bearer {token}")
        await assert_refused(http, feed.base_url + "/v1/timeline", f"Bearer {token}")
        # A public read refuses a broken token too, rather than reading as anonymous.
        await assert_refused(http, feed.base_url + "/v1/directory", f"Bearer {token}")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer a b c", "Token abc"])
async def test_malformed_authorization_headers(
    header: str, publisher: ServiceProcess, feed: ServiceProcess
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        await assert_refused(http, publisher.base_url + GHOST_CHANNEL, header)
        await assert_refused(http, feed.base_url + "/v1/timeline", header)


async def test_audience_and_issuer_when_configured(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    feed = await spawn_service(
        "feed", HERALD_JWT_AUDIENCE="herald-clients", HERALD_JWT_ISSUER="https://id.example"
    ).start()
    good = claims(aud="herald-clients", iss="https://id.example")
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=10) as http:
        ok = await http.get("/v1/timeline", headers={"Authorization": f"Bearer {hs256(good)}"})
        assert ok.status_code == 200, ok.text
        for bad in (
            {**good, "aud": "someone-else"},
            {**good, "iss": "https://evil.example"},
            {k: v for k, v in good.items() if k != "aud"},
            {k: v for k, v in good.items() if k != "iss"},
        ):
            await assert_refused(http, "/v1/timeline", f"Bearer {hs256(bad)}")


async def test_public_key_mode_refuses_hs_rs_confusion(
    spawn_service: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    key_file = tmp_path / "issuer.pem"
    key_file.write_bytes(RSA_PUBLIC_PEM)
    publisher = await spawn_service(
        "publisher", HERALD_JWT_PUBLIC_KEY_FILE=str(key_file), HERALD_JWT_AUDIENCE="herald"
    ).start()
    good = claims(aud="herald")
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=10) as http:
        ok = await http.get(GHOST_CHANNEL, headers={"Authorization": f"Bearer {rs256(good)}"})
        assert ok.status_code == 404, ok.text  # authenticated; the channel does not exist
        # The classic confusion: HMAC keyed with the (public) verification key.
        confused = raw_token({"alg": "HS256", "typ": "JWT"}, good, RSA_PUBLIC_PEM)
        await assert_refused(http, GHOST_CHANNEL, f"Bearer {confused}")
        # The dev secret means nothing here.
        await assert_refused(http, GHOST_CHANNEL, f"Bearer {hs256(good)}")
        await assert_refused(http, GHOST_CHANNEL, f"Bearer {rs256(claims(aud='other'))}")
