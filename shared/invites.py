"""Channel invite codes, as the publisher issues them and the feed redeems them.

A code is 192 random bits in URL-safe base64 (32 characters), shown once to the admin who
created it; only its sha256 is stored (`channel_invites.code_hash`), so a database read
reveals no usable code. Both services hash with `code_hash`, which is why it lives here.
"""

from __future__ import annotations

import hashlib
import secrets

CODE_BYTES = 24
# Longer than any code issued (32 characters): anything longer is refused unhashed.
CODE_MAX_CHARS = 64
# An invite lives at most 30 days (DESIGN.md), a week unless the admin says otherwise.
EXPIRES_MAX_S = 30 * 24 * 3600
EXPIRES_DEFAULT_S = 7 * 24 * 3600


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def code_hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
