"""Web Push message encryption: RFC 8291 over the `aes128gcm` content coding (RFC 8188).

One message is one record: the body is the RFC 8188 header (salt, record size, key id =
the sender's ephemeral public key) followed by the AES-128-GCM ciphertext of the payload
and its 0x02 last-record delimiter. Every message uses a fresh ephemeral key pair and a
fresh salt (RFC 8291 §3.4); the keys of a test vector can be passed in instead.

HKDF-SHA-256 is written out with `hmac` (extract = one HMAC, and every expansion here
needs a single block): it is the hot path of the push service and the generic HKDF class
costs more per call than the four HMACs it amounts to.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# RFC 8291 §4: the record size used; one record holds up to RECORD_SIZE - 16 (tag) - 1
# (delimiter) bytes of plaintext, and push services accept bodies of at most 4096 bytes.
RECORD_SIZE = 4096
HEADER_SIZE = 16 + 4 + 1 + 65
MAX_BODY = 4096
MAX_PAYLOAD = MAX_BODY - HEADER_SIZE - 16 - 1  # 3993 bytes (RFC 8291 §4)
_KEY_INFO = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00\x01"
_NONCE_INFO = b"Content-Encoding: nonce\x00\x01"
_LAST_RECORD = b"\x02"
_CURVE = ec.SECP256R1()


class PayloadTooLarge(ValueError):
    """The payload does not fit one 4096-byte Web Push message."""


class BadSubscriptionKeys(ValueError):
    """`p256dh` is not a P-256 point or `auth` is not a 16-byte secret."""


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, hashlib.sha256)


def encrypt(
    payload: bytes,
    p256dh: bytes,
    auth: bytes,
    *,
    sender_key: ec.EllipticCurvePrivateKey | None = None,
    salt: bytes | None = None,
) -> bytes:
    """The `aes128gcm` body carrying `payload` to the user agent holding `p256dh`/`auth`.

    `sender_key` and `salt` are for test vectors only: left out, a fresh ephemeral key
    pair and 16 random bytes are used, as RFC 8291 requires for every message.
    Raises PayloadTooLarge over MAX_PAYLOAD bytes, BadSubscriptionKeys for keys that
    are not a P-256 point and a 16-byte secret."""
    if len(payload) > MAX_PAYLOAD:
        raise PayloadTooLarge(f"{len(payload)} bytes > {MAX_PAYLOAD}")
    if len(auth) != 16:
        raise BadSubscriptionKeys("auth secret is not 16 bytes")
    if len(p256dh) != 65 or p256dh[0] != 0x04:
        raise BadSubscriptionKeys("p256dh is not an uncompressed P-256 point")
    try:
        ua_public = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, p256dh)
    except (ValueError, InvalidKey) as exc:
        raise BadSubscriptionKeys("p256dh is not a P-256 point") from exc
    if sender_key is None:
        sender_key = ec.generate_private_key(_CURVE)
    if salt is None:
        salt = os.urandom(16)
    sender_public = sender_key.public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint
    )
    ecdh_secret = sender_key.exchange(ec.ECDH(), ua_public)
    # RFC 8291 §3.3: the auth secret salts the ECDH secret, bound to both public keys.
    prk_key = _hmac(auth, ecdh_secret)
    ikm = _hmac(prk_key, _KEY_INFO + p256dh + sender_public + b"\x01")
    # RFC 8188 §2.2: content-encryption key and nonce from the record's salt.
    prk = _hmac(salt, ikm)
    cek = _hmac(prk, _CEK_INFO)[:16]
    nonce = _hmac(prk, _NONCE_INFO)[:12]
    ciphertext = AESGCM(cek).encrypt(nonce, payload + _LAST_RECORD, None)
    header = salt + struct.pack("!IB", RECORD_SIZE, len(sender_public)) + sender_public
    return header + ciphertext
