"""The VAPID key pair (RFC 8292): one P-256 private key in a PEM (PKCS#8) file.

The feed hands its public half to browsers (`GET /v1/push/key`, the
`applicationServerKey` of `PushManager.subscribe`); the push service signs with the
private half. Browsers bind each subscription to that public key, so replacing the key
silently breaks every existing subscription: outside production the file is created
once and then kept; in production it must exist (`create=False`) and is never made up.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_FILE_MODE = 0o600


def load_or_create_private_key(
    path: str | os.PathLike[str], *, create: bool
) -> ec.EllipticCurvePrivateKey:
    """Load the P-256 private key in `path`; when it is missing and `create` is true,
    generate one and write it there first (mode 0600, parent directories made as needed).

    Creation is atomic and first-writer-wins: processes starting together (feed and push)
    all end up with the same key. Raises `FileNotFoundError` when the file is missing and
    `create` is false, `ValueError` when it holds anything but a P-256 private key.
    """
    key_path = Path(path)
    if create and not key_path.exists():
        _create(key_path)
    data = key_path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{key_path.name}: not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{key_path.name}: not a P-256 (prime256v1) private key")
    return key


def _create(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written in full to a private temporary file, then linked into place: a reader never
    # sees half a key, and `link` fails if another process got there first (its key wins).
    fd, tmp_name = tempfile.mkstemp(dir=key_path.parent, prefix=".vapid-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(pem)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, KEY_FILE_MODE)
        with contextlib.suppress(FileExistsError):
            os.link(tmp_name, key_path)
    finally:
        os.unlink(tmp_name)


def public_key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed public point (0x04 ‖ X ‖ Y)."""
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def application_server_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public point as browsers take it: base64url without padding (87 characters)."""
    return base64.urlsafe_b64encode(public_key_bytes(key)).rstrip(b"=").decode("ascii")
