"""FastAPI dependencies for the caller's identity and their rate limit.

`require_account` answers 401 without a valid bearer token. `optional_account` lets
anonymous callers through but still refuses a token that is present and invalid: a
client with a broken token should learn it, not silently read as anonymous.

`require_operator` (`Operator`) admits Herald's operators only: accounts listed in
`HERALD_OPERATOR_ACCOUNTS`, or tokens whose `roles` claim holds `herald-operator`.
Everyone else — anonymous, a broken token, any other account — gets the very 404 of a
path that does not exist, so the operator API reveals nothing, not even that it exists.

Tokens verify with the HS256 secret / public key file or, for OIDC logins, with the keys
of `HERALD_JWT_JWKS_URL` (`shared.auth.TokenVerifier.authenticate`). While the provider's
keys have never been fetched, a token naming one answers 503 `token-keys-unavailable`
with `Retry-After`: the token may be fine, so the client should not drop it. A token
whose `sub` breaks `shared.text`'s single-line rule (a NUL, any control character) is
invalid: an account id is stored and compared as text, and Postgres cannot hold a NUL.

Failed authentication (a malformed `Authorization` header or an invalid token; not a
missing one, not a 503) is limited per client IP (`HERALD_AUTH_FAILURE_BURST`, refilled
at `HERALD_AUTH_FAILURE_RATE_PER_SECOND`): once an IP's bucket is empty, its bearer
requests answer 429 `rate-limited` with `Retry-After`, before any token is verified, so a
list of guessed or stolen tokens cannot be tried at speed and a valid one cannot be told
apart meanwhile. Operator paths still answer their 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shared.auth import InvalidToken, Principal, TokenVerifier
from shared.http.problems import Problem
from shared.http.ratelimit import RateLimiter, too_many
from shared.jwks import COOLDOWN_S, JwksUnavailable
from shared.settings import HttpServiceSettings
from shared.text import is_single_line

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="herald"'}
# The role a token's `roles` claim holds to make its account an operator.
OPERATOR_ROLE = "herald-operator"


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


def _client_key(request: Request) -> str:
    return f"ip:{request.client.host if request.client else 'unknown'}"


def _failure_limiter(request: Request) -> RateLimiter | None:
    limiter: RateLimiter | None = getattr(request.app.state, "auth_failure_limiter", None)
    return limiter


def _refuse_failing_client(request: Request) -> None:
    """429 while the caller's IP has used up its failed-authentication bucket."""
    limiter = _failure_limiter(request)
    if limiter is not None:
        wait = limiter.wait(_client_key(request))
        if wait > 0:
            raise too_many(wait, "too many failed authentications from this address; wait")


def _count_failure(request: Request) -> None:
    limiter = _failure_limiter(request)
    if limiter is not None:
        limiter.take(_client_key(request))


async def _verify(request: Request, token: str) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        principal = await verifier.authenticate(token)
    except InvalidToken as exc:
        raise Problem(
            401, f"invalid token: {exc}", type_="unauthorized", headers=_CHALLENGE
        ) from None
    except JwksUnavailable:
        raise Problem(
            503,
            "the token issuer's signing keys are unavailable; retry shortly",
            type_="token-keys-unavailable",
            headers={"Retry-After": str(int(COOLDOWN_S))},
        ) from None
    if not is_single_line(principal.account_id):
        raise Problem(
            401,
            "invalid token: sub must not contain control characters",
            type_="unauthorized",
            headers=_CHALLENGE,
        )
    return principal


async def _authenticate(request: Request) -> Principal | None:
    """The caller from the `Authorization` header; None without one. Every 401 on the way
    is counted against the client's IP, and an IP over its limit gets 429 up front."""
    if "authorization" not in request.headers:
        return None
    _refuse_failing_client(request)
    try:
        token = _bearer(request)
        return None if token is None else await _verify(request, token)
    except Problem as problem:
        if problem.status == 401:
            _count_failure(request)
        raise


def _limit(request: Request, key: str) -> None:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(key)


async def require_account(request: Request) -> Principal:
    principal = await _authenticate(request)
    if principal is None:
        raise Problem(401, "a bearer token is required", type_="unauthorized", headers=_CHALLENGE)
    _limit(request, f"a:{principal.account_id}")
    return principal


async def optional_account(request: Request) -> Principal | None:
    principal = await _authenticate(request)
    if principal is None:
        _limit(request, _client_key(request))
        return None
    _limit(request, f"a:{principal.account_id}")
    return principal


def is_operator(principal: Principal, operator_accounts: frozenset[str]) -> bool:
    return OPERATOR_ROLE in principal.roles or principal.account_id in operator_accounts


def _hidden() -> Problem:
    # Word for word what the app answers for a path it does not serve.
    return Problem(404, "Not Found")


async def require_operator(request: Request) -> Principal:
    """The operator making the request; 404 (never 401/403) for anyone else. The rate limit
    applies to operators only: a 429 would tell others the path exists."""
    try:
        principal = await _authenticate(request)
    except Problem:
        raise _hidden() from None
    settings: HttpServiceSettings = request.app.state.settings
    if principal is None or not is_operator(principal, settings.operator_account_set):
        raise _hidden()
    _limit(request, f"a:{principal.account_id}")
    return principal


Account = Annotated[Principal, Depends(require_account)]
Operator = Annotated[Principal, Depends(require_operator)]
MaybeAccount = Annotated[Principal | None, Depends(optional_account)]
