"""Tokens from an OpenID provider's JWKS: its RS256/ES256 keys verify tokens for our issuer
and audience only, confused or unsigned tokens fail, rotation is picked up with one
refresh and a flood of unknown key ids cannot make Herald hammer the provider."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from pydantic import ValidationError

from shared.auth import InvalidToken, TokenVerifier, mint_dev_token
from shared.http.auth import Account
from shared.http.problems import install_problem_handlers
from shared.jwks import (
    COOLDOWN_S,
    MAX_AGE_S,
    MAX_JWKS_BYTES,
    JwksKeys,
    JwksUnavailable,
    parse_jwks,
)
from shared.settings import HeraldSettings
from tests.support.jwks_server import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    SigningKey,
    hand_made,
    provider_claims,
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def settings_for(url: str, **overrides: Any) -> HeraldSettings:
    return HeraldSettings(
        environment="test",
        jwt_jwks_url=url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        **overrides,
    )


RSA = SigningKey("RS256")
EC = SigningKey("ES256")


@pytest.fixture
async def server() -> AsyncIterator[JwksServer]:
    async with JwksServer(RSA, EC) as jwks:
        yield jwks


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(server: JwksServer, clock: Clock) -> TokenVerifier:
    return TokenVerifier(settings_for(server.url), jwks=JwksKeys(server.url, clock=clock))


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
async def test_provider_tokens_verify_to_their_subject(
    key: SigningKey, verifier: TokenVerifier
) -> None:
    principal = await verifier.authenticate(
        key.sign(provider_claims("acct-1", roles=["herald-operator", 7]))
    )
    assert principal.account_id == "acct-1"
    assert principal.roles == frozenset({"herald-operator"})


async def test_the_dev_secret_still_works_beside_the_jwks(
    server: JwksServer, verifier: TokenVerifier
) -> None:
    token = mint_dev_token(settings_for(server.url), "alice")
    assert (await verifier.authenticate(token)).account_id == "alice"


def _in(seconds: int) -> int:
    return int(time.time()) + seconds


def _refused_cases() -> dict[str, Any]:
    public_pem = RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk_json = json.dumps(RSA.public_jwk()).encode()
    confused = {"alg": "HS256", "typ": "JWT", "kid": RSA.kid}
    return {
        "wrong issuer": lambda: RSA.sign(provider_claims("a", iss="https://evil.example")),
        "no issuer": lambda: RSA.sign(provider_claims("a", iss=None)),
        "wrong audience": lambda: EC.sign(provider_claims("a", aud="another-app")),
        "no audience": lambda: EC.sign(provider_claims("a", aud=None)),
        "expired": lambda: RSA.sign(provider_claims("a", ttl_s=-3600)),
        "no exp": lambda: RSA.sign(provider_claims("a", exp=None)),
        "not yet valid": lambda: RSA.sign(provider_claims("a", nbf=_in(3600))),
        "issued in the future": lambda: RSA.sign(provider_claims("a", iat=_in(3600))),
        "sub too long": lambda: RSA.sign(provider_claims("x" * 129)),
        "sub not a string": lambda: RSA.sign(provider_claims(12345)),  # type: ignore[arg-type]
        "alg none": lambda: hand_made({"alg": "none", "kid": RSA.kid}, provider_claims("a"), None),
        "HS256 keyed with the public key": lambda: hand_made(
            confused, provider_claims("a"), public_pem
        ),
        "HS256 keyed with the JWK": lambda: hand_made(confused, provider_claims("a"), jwk_json),
        "RS256 header on the EC key": lambda: hand_made(
            {"alg": "RS256", "kid": EC.kid}, provider_claims("a"), b"x"
        ),
        "signed by a key the provider does not list": lambda: SigningKey("RS256", kid=RSA.kid).sign(
            provider_claims("a")
        ),
        "unknown kid": lambda: SigningKey("ES256").sign(provider_claims("a")),
    }


REFUSED = _refused_cases()


@pytest.mark.parametrize("case", list(REFUSED))
async def test_bad_tokens_are_refused(case: str, verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken):
        await verifier.authenticate(REFUSED[case]())


async def test_an_hmac_secret_published_in_the_jwks_verifies_nothing(
    server: JwksServer, verifier: TokenVerifier
) -> None:
    secret = secrets.token_bytes(32)
    server.extra_entries.append({"kty": "oct", "kid": "shared", "k": _b64(secret), "alg": "HS256"})
    token = hand_made({"alg": "HS256", "kid": "shared"}, provider_claims("a"), secret)
    with pytest.raises(InvalidToken):
        await verifier.authenticate(token)


async def test_an_unknown_kid_costs_one_refresh_then_nothing_until_the_cooldown(
    server: JwksServer, verifier: TokenVerifier, clock: Clock
) -> None:
    assert (await verifier.authenticate(RSA.sign(provider_claims("a")))).account_id == "a"
    assert server.fetches == 1
    # A flood of made-up key ids, some at once: none verifies, none reaches the provider.
    strangers = [SigningKey("ES256", kid=secrets.token_hex(8)) for _ in range(3)]
    tokens = [strangers[i % 3].sign(provider_claims("a")) for i in range(60)]
    results = await asyncio.gather(
        *(verifier.authenticate(t) for t in tokens), return_exceptions=True
    )
    assert all(isinstance(r, InvalidToken) for r in results)
    assert server.fetches == 1
    # Known keys keep working meanwhile.
    assert (await verifier.authenticate(EC.sign(provider_claims("b")))).account_id == "b"
    # After the cooldown, an unknown kid refreshes once more, however many ask at once.
    clock.now += COOLDOWN_S
    results = await asyncio.gather(
        *(verifier.authenticate(t) for t in tokens), return_exceptions=True
    )
    assert all(isinstance(r, InvalidToken) for r in results)
    assert server.fetches == 2


async def test_a_rotated_key_is_accepted_after_one_refresh(
    server: JwksServer, verifier: TokenVerifier, clock: Clock
) -> None:
    assert (await verifier.authenticate(RSA.sign(provider_claims("a")))).account_id == "a"
    rotated = SigningKey("RS256")
    server.published = [rotated, EC]  # the provider rotated RSA out
    clock.now += COOLDOWN_S
    assert (await verifier.authenticate(rotated.sign(provider_claims("a")))).account_id == "a"
    assert server.fetches == 2
    # The withdrawn key verifies nothing once the set was refreshed.
    with pytest.raises(InvalidToken):
        await verifier.authenticate(RSA.sign(provider_claims("a")))


async def test_a_withdrawn_key_stops_verifying_after_the_max_age(
    server: JwksServer, verifier: TokenVerifier, clock: Clock
) -> None:
    assert (await verifier.authenticate(RSA.sign(provider_claims("a")))).account_id == "a"
    server.published = [EC]
    clock.now += MAX_AGE_S
    with pytest.raises(InvalidToken):
        await verifier.authenticate(RSA.sign(provider_claims("a")))
    assert server.fetches == 2


async def test_keys_never_fetched_answer_503_and_known_keys_survive_an_outage(
    clock: Clock,
) -> None:
    async with JwksServer(RSA) as jwks:
        url = jwks.url
    # The provider is gone: nothing listens at the URL any more.
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(
        settings_for(url), jwks=JwksKeys(url, clock=clock, timeout_s=2.0)
    )
    install_problem_handlers(app)

    @app.get("/me")
    async def me(account: Account) -> dict[str, str]:
        return {"account": account.account_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = RSA.sign(provider_claims("a"))
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert response.json()["type"].endswith("token-keys-unavailable")
        assert "retry-after" in response.headers
        # A dev-secret token does not depend on the provider.
        dev = mint_dev_token(settings_for(url), "alice")
        ok = await client.get("/me", headers={"Authorization": f"Bearer {dev}"})
        assert ok.json() == {"account": "alice"}

    async with JwksServer(RSA) as jwks:
        keys = JwksKeys(jwks.url, clock=clock)
        assert await keys.get(RSA.kid) is not None
    clock.now += MAX_AGE_S  # stale, and the provider is down: the old keys still serve
    assert await keys.get(RSA.kid) is not None


async def test_an_oversized_jwks_is_not_read(clock: Clock) -> None:
    async with JwksServer(RSA) as jwks:
        jwks.extra_entries.append({"kty": "oct", "kid": "pad", "k": "A" * MAX_JWKS_BYTES})
        keys = JwksKeys(jwks.url, clock=clock)
        with pytest.raises(JwksUnavailable):
            await keys.get(RSA.kid)


def test_only_rs256_and_p256_signing_keys_are_kept() -> None:
    p384 = SigningKey("ES256", kid="p384", private=ec.generate_private_key(ec.SECP384R1()))
    entries = [
        RSA.public_jwk(),
        EC.public_jwk(),
        {**RSA.public_jwk(), "kid": "enc", "use": "enc"},
        {**RSA.public_jwk(), "kid": "ps", "alg": "PS256"},
        {**RSA.public_jwk(), "kid": "hs", "alg": "HS256"},
        {k: v for k, v in p384.public_jwk().items() if k != "alg"},
        {"kty": "oct", "kid": "oct", "k": _b64(b"s" * 32)},
        {**EC.public_jwk(), "kid": None},
        "not a key",
    ]
    assert set(parse_jwks({"keys": entries})) == {RSA.kid, EC.kid}
    with pytest.raises(ValueError):
        parse_jwks({"keys": "nope"})


def test_settings_require_issuer_and_audience_and_https_in_production() -> None:
    with pytest.raises(ValidationError, match="HERALD_JWT_ISSUER and HERALD_JWT_AUDIENCE"):
        HeraldSettings(environment="test", jwt_jwks_url="https://id.example/jwks")
    with pytest.raises(ValidationError, match="HERALD_JWT_ISSUER and HERALD_JWT_AUDIENCE"):
        HeraldSettings(environment="test", jwt_jwks_url="https://id.example/jwks", jwt_issuer="x")
    with pytest.raises(ValidationError, match="https URL in production"):
        HeraldSettings(
            environment="production",
            jwt_jwks_url="http://id.example/jwks",
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )
    with pytest.raises(ValidationError, match="URL"):
        settings_for("file:///etc/keys.json")
    # An empty variable (as in .env.example) means unset.
    assert HeraldSettings(environment="test", jwt_jwks_url="").jwt_jwks_url is None


async def test_production_with_a_jwks_and_no_real_secret_accepts_jwks_tokens_only(
    server: JwksServer, clock: Clock
) -> None:
    prod = HeraldSettings(
        environment="production",
        jwt_jwks_url="https://id.example/jwks.json",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    verifier = TokenVerifier(prod, jwks=JwksKeys(server.url, clock=clock))
    assert (await verifier.authenticate(EC.sign(provider_claims("a")))).account_id == "a"
    dev_token = mint_dev_token(settings_for(server.url), "a")  # the placeholder secret
    with pytest.raises(InvalidToken):
        await verifier.authenticate(dev_token)
