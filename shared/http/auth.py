"""FastAPI dependencies for the caller's identity and their rate limit.

`require_account` answers 401 without a valid bearer token. `optional_account` lets
anonymous callers through but still refuses a token that is present and invalid: a
client with a broken token should learn it, not silently read as anonymous.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.auth import InvalidToken, Principal, TokenVerifier
from shared.http.problems import Problem
from shared.http.ratelimit import RateLimiter

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="herald"'}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(
            401, "Authorization must be 'Bearer <token>'", type_="unauthorized", headers=_CHALLENGE
        )
    return token.strip()


def _verify(request: Request, token: str) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return verifier.verify(token)
    except InvalidToken as exc:
        raise Problem(
            401, f"invalid token: {exc}", type_="unauthorized", headers=_CHALLENGE
        ) from None


def _limit(request: Request, key: str) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(key)


async def require_account(request: Request) -> Principal:
    token = _bearer(request)
    if token is None:
        raise Problem(401, "a bearer token is required", type_="unauthorized", headers=_CHALLENGE)
    principal = _verify(request, token)
    _limit(request, f"a:{principal.account_id}")
    return principal


async def optional_account(request: Request) -> Principal | None:
    token = _bearer(request)
    if token is None:
        client = request.client.host if request.client else "unknown"
        _limit(request, f"ip:{client}")
        return None
    principal = _verify(request, token)
    _limit(request, f"a:{principal.account_id}")
    return principal


Account = Annotated[Principal, Depends(require_account)]
MaybeAccount = Annotated[Principal | None, Depends(optional_account)]
