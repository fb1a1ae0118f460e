"""RFC 8291 message encryption: the sender's encryption and the test receiver's
decryption, each against the RFC's Appendix A example and against each other."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.push.sender.encryption import (
    MAX_PAYLOAD,
    BadSubscriptionKeys,
    PayloadTooLarge,
    encrypt,
)
from tests.support.push_receiver import DecryptionError, b64url_decode, decrypt

# RFC 8291 Appendix A (line breaks removed).
PLAINTEXT = b64url_decode("V2hlbiBJIGdyb3cgdXAsIEkgd2FudCB0byBiZSBhIHdhdGVybWVsb24")
AS_PRIVATE = b64url_decode("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")
AS_PUBLIC = b64url_decode(
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
)
UA_PRIVATE = b64url_decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")
UA_PUBLIC = b64url_decode(
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
SALT = b64url_decode("DGv6ra1nlYgDCS1FRnbzlw")
AUTH = b64url_decode("BTBZMqHH6r4Tts7J_aSIgg")
MESSAGE = b64url_decode(
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS"
    "6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qu"
    "lcy4a-fN"
)


def private_key(raw: bytes) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def test_the_vector_keys_are_consistent() -> None:
    for private, public in ((AS_PRIVATE, AS_PUBLIC), (UA_PRIVATE, UA_PUBLIC)):
        derived = private_key(private).public_key()
        assert derived.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint) == public


def test_sender_encryption_reproduces_rfc8291_appendix_a() -> None:
    body = encrypt(PLAINTEXT, UA_PUBLIC, AUTH, sender_key=private_key(AS_PRIVATE), salt=SALT)
    assert body == MESSAGE


def test_receiver_decrypts_rfc8291_appendix_a() -> None:
    assert decrypt(MESSAGE, private_key(UA_PRIVATE), AUTH) == PLAINTEXT


def test_receiver_refuses_a_tampered_message_or_wrong_secret() -> None:
    tampered = bytearray(MESSAGE)
    tampered[-1] ^= 1
    with pytest.raises(DecryptionError):
        decrypt(bytes(tampered), private_key(UA_PRIVATE), AUTH)
    with pytest.raises(DecryptionError):
        decrypt(MESSAGE, private_key(UA_PRIVATE), bytes(16))


def test_every_message_gets_a_fresh_key_and_salt_and_round_trips() -> None:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    auth = bytes(range(16))
    payload = b'{"type":"post","preview":"\xc3\xa9t\xc3\xa9"}'
    first, second = encrypt(payload, public, auth), encrypt(payload, public, auth)
    assert first[:16] != second[:16]  # salt
    assert first[21:86] != second[21:86]  # ephemeral sender key
    assert decrypt(first, device, auth) == decrypt(second, device, auth) == payload


def test_largest_payload_fills_a_4096_byte_body_and_one_more_byte_is_refused() -> None:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    auth = bytes(16)
    body = encrypt(b"x" * MAX_PAYLOAD, public, auth)
    assert len(body) == 4096
    assert decrypt(body, device, auth) == b"x" * MAX_PAYLOAD
    with pytest.raises(PayloadTooLarge):
        encrypt(b"x" * (MAX_PAYLOAD + 1), public, auth)


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [(UA_PUBLIC[:33], AUTH), (b"\x04" + bytes(64), AUTH), (UA_PUBLIC, AUTH[:15])],
)
def test_keys_that_are_not_a_point_and_a_16_byte_secret_are_refused(
    p256dh: bytes, auth: bytes
) -> None:
    with pytest.raises(BadSubscriptionKeys):
        encrypt(b"{}", p256dh, auth)
