"""VAPID headers (RFC 8292): what a push service verifies, and the per-origin cache."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from services.push.sender.vapid import TOKEN_LIFETIME_S, VapidSigner
from tests.support.push_receiver import b64url_decode


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def parse(header: str) -> tuple[str, str]:
    scheme, _, params = header.partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    return fields["t"], fields["k"]


def test_header_verifies_with_the_application_server_key_and_names_the_origin() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    clock = Clock()
    signer = VapidSigner(key, "mailto:ops@example.org", clock=clock)
    token, k = parse(signer.authorization("https://push.example.net"))
    assert k == signer.public_key
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(k))
    assert public.public_numbers() == key.public_key().public_numbers()
    claims = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience="https://push.example.net",
        options={"verify_exp": False},
    )
    assert claims["sub"] == "mailto:ops@example.org"
    assert 0 < claims["exp"] - clock.now <= 24 * 3600
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


def test_header_is_cached_per_origin_and_re_signed_before_it_expires() -> None:
    clock = Clock()
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:a@b.c", clock=clock)
    first = signer.authorization("https://a.example")
    assert signer.authorization("https://a.example") == first
    assert signer.authorization("https://b.example") != first
    clock.now += TOKEN_LIFETIME_S - 60  # less than an hour of validity left
    assert signer.authorization("https://a.example") != first


def test_cache_is_bounded() -> None:
    signer = VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:a@b.c", max_origins=2)
    for n in range(5):
        signer.authorization(f"https://{n}.example")
    assert len(signer._cache) == 2


def test_refuses_a_lifetime_over_24_hours_or_a_key_not_on_p256() -> None:
    with pytest.raises(ValueError):
        VapidSigner(ec.generate_private_key(ec.SECP256R1()), "mailto:a@b.c", lifetime_s=90000)
    with pytest.raises(ValueError):
        VapidSigner(ec.generate_private_key(ec.SECP384R1()), "mailto:a@b.c")
