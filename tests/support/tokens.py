"""Tokens for test accounts, signed like the local stack's dev tokens."""

from __future__ import annotations

import time
from collections.abc import Sequence

import jwt

from shared.settings import DEV_JWT_SECRET


def token_for(account_id: str, ttl_s: int = 3600, **claims: object) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": account_id, "iat": now, "exp": now + ttl_s, **claims},
        DEV_JWT_SECRET,
        algorithm="HS256",
    )


def auth(account_id: str, roles: Sequence[str] = ()) -> dict[str, str]:
    """Bearer headers of `account_id`; `roles` become the token's `roles` claim."""
    token = token_for(account_id, roles=list(roles)) if roles else token_for(account_id)
    return {"Authorization": f"Bearer {token}"}


def operator_auth(account_id: str) -> dict[str, str]:
    """Bearer headers of an operator: a token whose roles hold `herald-operator`."""
    return auth(account_id, roles=["herald-operator"])
