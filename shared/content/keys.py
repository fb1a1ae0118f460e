"""Content keys: one random AES-256 key per post version, wrapped under a master key.

Crypto-shredding: a post version's body travels on `herald.posts.v1` (and so the DLQ)
sealed under its own key; the key lives only in `content_keys`, wrapped under the master
key from `HERALD_CONTENT_MASTER_KEY`. Deleting the row makes every copy of the version
unreadable. A content key is `os.urandom(32)`, never derived from anything Herald keeps
(a derivable key could be derived again, and destroying it would mean nothing).

`HERALD_CONTENT_MASTER_KEY` is comma-separated `id:base64url(32 bytes)` entries; the first
wraps new keys, the others still unwrap (rotation: add a new first entry, keep the old ones
until every key they wrapped has expired, at most 31 days). Production refuses the
development placeholder.

Formats (AES-256-GCM, a random 12-byte nonce prefixed to each ciphertext):
- wrapped key = nonce || GCM(master, content key, aad = key_id's 16 bytes)
- sealed body = nonce || GCM(content key, plaintext, aad = caller's, see `body_aad`)
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4

import asyncpg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
# The development master key: known to everyone, so refused in production. Its bytes spell
# what it is.
DEV_MASTER_KEY_ID = "dev"
DEV_MASTER_KEY_BYTES = b"herald-dev-master-key-not-secret"
DEV_MASTER_KEY = (
    f"{DEV_MASTER_KEY_ID}:{base64.urlsafe_b64encode(DEV_MASTER_KEY_BYTES).decode().rstrip('=')}"
)
_MASTER_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class ContentKeyError(Exception):
    """A wrapped key or sealed body that does not open: wrong key, tampered, or malformed.
    Its message never carries content."""


@dataclass(frozen=True)
class ContentKey:
    key_id: UUID
    key: bytes

    def __repr__(self) -> str:  # never print key material
        return f"ContentKey(key_id={self.key_id})"


def new_content_key() -> ContentKey:
    """A fresh random key for one post version."""
    return ContentKey(key_id=uuid4(), key=os.urandom(KEY_BYTES))


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class MasterKeys:
    """The master keys by id; `current_id` wraps new content keys."""

    current_id: str
    by_id: dict[str, bytes]

    def __repr__(self) -> str:
        return f"MasterKeys(current_id={self.current_id!r}, ids={list(self.by_id)!r})"

    @classmethod
    def from_setting(cls, value: str, *, production: bool = False) -> MasterKeys:
        """Parse `HERALD_CONTENT_MASTER_KEY`; ValueError (naming no key material) when it is
        malformed, empty, repeats an id, or is the development placeholder in production."""
        entries = [part.strip() for part in value.split(",") if part.strip()]
        if not entries:
            raise ValueError("HERALD_CONTENT_MASTER_KEY is empty")
        by_id: dict[str, bytes] = {}
        for entry in entries:
            key_id, sep, encoded = entry.partition(":")
            if not sep or not key_id or not set(key_id) <= _MASTER_ID_CHARS or len(key_id) > 64:
                raise ValueError(
                    "HERALD_CONTENT_MASTER_KEY entries are id:base64url(32 bytes), "
                    "ids of letters, digits, '_', '.', '-'"
                )
            try:
                key = _b64url_decode(encoded)
            except (binascii.Error, ValueError):
                raise ValueError(
                    f"HERALD_CONTENT_MASTER_KEY entry {key_id!r} is not base64url"
                ) from None
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"HERALD_CONTENT_MASTER_KEY entry {key_id!r} must decode to {KEY_BYTES} bytes"
                )
            if key_id in by_id:
                raise ValueError(f"HERALD_CONTENT_MASTER_KEY repeats the id {key_id!r}")
            if production and key == DEV_MASTER_KEY_BYTES:
                raise ValueError(
                    "HERALD_CONTENT_MASTER_KEY holds the development placeholder; "
                    "production needs a real random key"
                )
            by_id[key_id] = key
        return cls(current_id=entries[0].partition(":")[0], by_id=by_id)

    def wrap(self, content_key: ContentKey) -> tuple[str, bytes]:
        """(master key id, nonce || GCM(current master, key, aad = key_id bytes))."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.by_id[self.current_id]).encrypt(
            nonce, content_key.key, content_key.key_id.bytes
        )
        return self.current_id, nonce + sealed

    def unwrap(self, master_key_id: str, key_id: UUID, wrapped: bytes) -> bytes:
        """The content key; ContentKeyError for an unknown master id or a wrap that does
        not open (tampered, or stored for another key id)."""
        master = self.by_id.get(master_key_id)
        if master is None:
            raise ContentKeyError(f"content key wrapped under unknown master key {master_key_id!r}")
        return _open(master, wrapped, key_id.bytes, what="wrapped content key")


def _open(key: bytes, blob: bytes, aad: bytes, *, what: str) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise ContentKeyError(f"{what} too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise ContentKeyError(f"{what} does not open under its key") from None


def encrypt_body(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || AES-256-GCM(key, plaintext, aad) with a fresh random nonce."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt_body(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of `encrypt_body`; ContentKeyError when it does not open."""
    return _open(key, sealed, aad, what="sealed body")


def body_aad(post_id: UUID) -> bytes:
    """What a sealed post body is bound to: its post, so a ciphertext cannot be replayed
    as another post's body."""
    return b"herald.post-body:" + post_id.bytes


# --------------------------------------------------------------------------- storage

INSERT_KEY_SQL = """
INSERT INTO content_keys (key_id, expires_on, channel_id, post_id, master_key_id, wrapped)
VALUES ($1, $2, $3, $4, $5, $6)
"""


def key_row(
    masters: MasterKeys, content_key: ContentKey, expires_on: date, channel_id: UUID, post_id: UUID
) -> tuple[UUID, date, UUID, UUID, str, bytes]:
    """The arguments of `INSERT_KEY_SQL` for a new key: wrapped under the current master."""
    master_key_id, wrapped = masters.wrap(content_key)
    return (content_key.key_id, expires_on, channel_id, post_id, master_key_id, wrapped)


async def store_key(
    conn: asyncpg.Pool | asyncpg.Connection,
    masters: MasterKeys,
    content_key: ContentKey,
    expires_on: date,
    channel_id: UUID,
    post_id: UUID,
) -> None:
    """Insert a new key (the caller commits it before producing anything sealed under it).
    Outside a transaction (a pool or a connection in autocommit): when the expiry day's
    partition is missing (retention keeps them ahead; this is the fallback), it is created
    and the insert retried."""
    row = key_row(masters, content_key, expires_on, channel_id, post_id)
    try:
        await conn.execute(INSERT_KEY_SQL, *row)
    except asyncpg.CheckViolationError as exc:
        if "no partition" not in str(exc):
            raise
        await conn.execute("SELECT herald_ensure_content_key_partitions($1, $1)", expires_on)
        await conn.execute(INSERT_KEY_SQL, *row)


async def load_keys(
    conn: asyncpg.Connection, masters: MasterKeys, wanted: list[tuple[UUID, date]]
) -> dict[UUID, bytes]:
    """The unwrapped keys among `(key_id, expires_on)` that still exist, in one query; a
    destroyed key is simply absent. ContentKeyError when a stored wrap does not open."""
    if not wanted:
        return {}
    rows = await conn.fetch(
        """SELECT k.key_id, k.master_key_id, k.wrapped
           FROM content_keys k
           JOIN unnest($1::uuid[], $2::date[]) AS w(key_id, expires_on)
             ON k.expires_on = w.expires_on AND k.key_id = w.key_id""",
        [key_id for key_id, _ in wanted],
        [day for _, day in wanted],
    )
    return {
        row["key_id"]: masters.unwrap(row["master_key_id"], row["key_id"], bytes(row["wrapped"]))
        for row in rows
    }


async def load_key(
    conn: asyncpg.Connection, key_id: UUID, expires_on: date, masters: MasterKeys
) -> bytes | None:
    """One unwrapped key, or None when it has been destroyed."""
    return (await load_keys(conn, masters, [(key_id, expires_on)])).get(key_id)
