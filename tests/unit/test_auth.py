"""Token verification: only well-formed, correctly signed, current tokens with a `sub`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from shared.auth import InvalidToken, TokenVerifier, mint_dev_token
from shared.http.auth import Account
from shared.http.problems import PROBLEM_JSON, install_problem_handlers
from shared.settings import DEV_JWT_SECRET, HeraldSettings

SETTINGS = HeraldSettings(environment="test", jwt_secret=DEV_JWT_SECRET)


def _token(claims: dict[str, object], key: str = DEV_JWT_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def _now() -> int:
    return int(time.time())


def test_a_dev_token_verifies_to_its_account() -> None:
    token = mint_dev_token(SETTINGS, "alice")
    assert TokenVerifier(SETTINGS).verify(token).account_id == "alice"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            _token({"sub": "a", "exp": _now() + 60}, key="another-secret-" * 3),
            id="wrong-signature",
        ),
        pytest.param(_token({"sub": "a", "exp": _now() - 3600}), id="expired"),
        pytest.param(_token({"exp": _now() + 60}), id="missing-sub"),
        pytest.param(_token({"sub": "a"}), id="missing-exp"),
        pytest.param(
            _token({"sub": "a", "exp": _now() + 60, "nbf": _now() + 3600}), id="not-yet-valid"
        ),
        pytest.param(_token({"sub": "x" * 200, "exp": _now() + 60}), id="sub-too-long"),
        pytest.param(
            jwt.encode({"sub": "a", "exp": _now() + 60}, "", algorithm="none"), id="alg-none"
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
def test_invalid_tokens_are_rejected(token: str) -> None:
    with pytest.raises(InvalidToken):
        TokenVerifier(SETTINGS).verify(token)


def test_hs_rs_confusion_is_rejected(tmp_path: Path) -> None:
    """A token HMAC-signed with the public key must not pass an RS256 verifier."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "public.pem"
    key_file.write_bytes(public_pem)
    settings = HeraldSettings(environment="test", jwt_public_key_file=key_file)
    verifier = TokenVerifier(settings)
    good = jwt.encode({"sub": "a", "exp": _now() + 60}, private, algorithm="RS256")
    assert verifier.verify(good).account_id == "a"
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64(f'{{"sub":"a","exp":{_now() + 60}}}'.encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        verifier.verify(f"{header}.{payload}.{b64(signature)}")


def test_audience_and_issuer_are_enforced_when_configured() -> None:
    settings = HeraldSettings(environment="test", jwt_audience="herald", jwt_issuer="idp")
    verifier = TokenVerifier(settings)
    ok = _token({"sub": "a", "exp": _now() + 60, "aud": "herald", "iss": "idp"})
    assert verifier.verify(ok).account_id == "a"
    for claims in ({"aud": "other", "iss": "idp"}, {"aud": "herald", "iss": "evil"}, {}):
        with pytest.raises(InvalidToken):
            verifier.verify(_token({"sub": "a", "exp": _now() + 60, **claims}))


def test_production_refuses_the_placeholder_secret_and_minting() -> None:
    with pytest.raises(ValueError, match="HERALD_JWT_SECRET"):
        HeraldSettings(environment="production")
    prod = HeraldSettings(environment="production", jwt_secret="s" * 40)
    with pytest.raises(RuntimeError):
        mint_dev_token(prod, "alice")


async def test_http_dependency_answers_401_problem() -> None:
    app = FastAPI()
    app.state.token_verifier = TokenVerifier(SETTINGS)
    install_problem_handlers(app)

    @app.get("/me")
    async def me(account: Account) -> dict[str, str]:
        return {"account": account.account_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        expired = _token({"sub": "a", "exp": _now() - 3600})
        for headers in ({}, {"Authorization": f"Bearer {expired}"}, {"Authorization": "Basic x"}):
            response = await client.get("/me", headers=headers)
            assert response.status_code == 401
            assert response.headers["content-type"] == PROBLEM_JSON
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.json()["status"] == 401
        good = await client.get(
            "/me", headers={"Authorization": f"Bearer {mint_dev_token(SETTINGS, 'bob')}"}
        )
        assert good.json() == {"account": "bob"}
