"""Tokens for test accounts, signed like the local stack's dev tokens."""

from __future__ import annotations

import time

import jwt

from shared.settings import DEV_JWT_SECRET


def token_for(account_id: str, ttl_s: int = 3600, **claims: object) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": account_id, "iat": now, "exp": now + ttl_s, **claims},
        DEV_JWT_SECRET,
        algorithm="HS256",
    )


def auth(account_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(account_id)}"}
