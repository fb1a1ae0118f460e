"""OIDC logins end to end: a publisher and a feed configured with a provider's JWKS
(`HERALD_JWT_JWKS_URL`) take its RS256/ES256 tokens — a channel is created, followed and
listed — refuse forged ones with 401, and still take the dev secret's tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.integration.publisher.conftest import channel_body
from tests.support.jwks_server import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    SigningKey,
    hand_made,
    provider_claims,
)
from tests.support.processes import ServiceProcess
from tests.support.tokens import token_for

RSA = SigningKey("RS256")
EC = SigningKey("ES256")


@pytest.fixture
async def provider() -> AsyncIterator[JwksServer]:
    async with JwksServer(RSA, EC) as jwks:
        yield jwks


@pytest.fixture
async def services(
    provider: JwksServer, spawn_service: Callable[..., ServiceProcess]
) -> tuple[ServiceProcess, ServiceProcess]:
    env = {
        "HERALD_JWT_JWKS_URL": provider.url,
        "HERALD_JWT_ISSUER": ISSUER,
        "HERALD_JWT_AUDIENCE": AUDIENCE,
    }
    publisher = await spawn_service("publisher", **env).start()
    feed = await spawn_service("feed", **env).start()
    return publisher, feed


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(sub: str) -> dict[str, str]:
    public_pem = RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = provider_claims(sub)
    return {
        "signed by an unlisted key under a listed kid": SigningKey("RS256", kid=RSA.kid).sign(
            claims
        ),
        "alg none": hand_made({"alg": "none", "kid": RSA.kid}, claims, None),
        "HS256 keyed with the public key": hand_made(
            {"alg": "HS256", "kid": RSA.kid}, claims, public_pem
        ),
        "another audience": EC.sign(provider_claims(sub, aud="another-app")),
        "unknown kid": SigningKey("ES256").sign(claims),
    }


async def test_provider_tokens_create_follow_and_list(
    services: tuple[ServiceProcess, ServiceProcess], provider: JwksServer
) -> None:
    publisher, feed = services
    owner = bearer(RSA.sign(provider_claims("oidc-owner")))
    reader = bearer(EC.sign(provider_claims("oidc-reader")))
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        created = await pub.post("/v1/channels", json=channel_body(), headers=owner)
        assert created.status_code == 201, created.text
        channel_id = created.json()["channel_id"]
        mine = await pub.get(f"/v1/channels/{channel_id}", headers=owner)
        assert mine.status_code == 200, mine.text

        followed = await fd.put(f"/v1/channels/{channel_id}/follow", headers=reader)
        assert followed.status_code in (200, 201), followed.text
        follows = await fd.get("/v1/me/follows", headers=reader)
        assert follows.status_code == 200, follows.text
        assert [f["channel_id"] for f in follows.json()["items"]] == [channel_id]

        # The dev secret still verifies beside the JWKS (with our issuer and audience).
        dev = bearer(token_for("oidc-reader", iss=ISSUER, aud=AUDIENCE))
        same = await fd.get("/v1/me/follows", headers=dev)
        assert same.status_code == 200, same.text
        assert same.json()["items"] == follows.json()["items"]

        for case, token in forged("oidc-reader").items():
            for http, path in ((pub, f"/v1/channels/{channel_id}"), (fd, "/v1/me/follows")):
                refused = await http.get(path, headers=bearer(token))
                assert refused.status_code == 401, (case, path, refused.text)
                assert refused.headers["content-type"] == "application/problem+json"
        # Not a channel more for the owner, not a follow less for the reader.
        still = await fd.get("/v1/me/follows", headers=reader)
        assert still.json()["items"] == follows.json()["items"]
    # The processes really asked the provider (not some key configured elsewhere).
    assert provider.fetches >= 2
