"""Bearer-token verification, and a dev-only command that mints tokens.

Herald verifies JWTs (HS256 with a shared secret, or RS256/ES256 with a public key) and
never issues them in production: `sub` is the opaque account id. Only the configured
algorithms are accepted, so `none` and HS/RS confusion fail.

A token's `roles` claim (a list of strings) is read into `Principal.roles`; anything else
there reads as no roles, so an issuer's unrelated use of the claim never locks anyone out.
Herald itself only looks for `herald-operator` (`shared.http.auth.Operator`).

Usage (development only): python -m shared.auth <account-id> [--ttl SECONDS] [--role ROLE]…
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import jwt

from shared.settings import Environment, HeraldSettings

ACCOUNT_ID_MAX = 128
# Clock skew tolerated between the token issuer and Herald.
LEEWAY_S = 30
# Bounds on the roles read from a token: a huge claim costs memory on every request.
ROLES_MAX = 32
ROLE_MAX = 128


class InvalidToken(Exception):
    """The token is missing, malformed, expired, not yet valid or signed wrongly."""


@dataclass(frozen=True)
class Principal:
    account_id: str
    roles: frozenset[str] = field(default_factory=frozenset)


def roles_of(claim: object) -> frozenset[str]:
    """The roles of a `roles` claim: its strings (≤ 128 characters, the first 32); a claim
    that is not a list reads as none."""
    if not isinstance(claim, list):
        return frozenset()
    return frozenset(r for r in claim[:ROLES_MAX] if isinstance(r, str) and len(r) <= ROLE_MAX)


class TokenVerifier:
    def __init__(self, settings: HeraldSettings) -> None:
        if settings.jwt_public_key_file is not None:
            self._key: str = settings.jwt_public_key_file.read_text()
            self._algorithms = ["RS256", "ES256"]
        else:
            self._key = settings.jwt_secret
            self._algorithms = ["HS256"]
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 1 <= len(sub) <= ACCOUNT_ID_MAX:
            raise InvalidToken("sub must be a string of 1 to 128 characters")
        return Principal(account_id=sub, roles=roles_of(claims.get("roles")))


def mint_dev_token(
    settings: HeraldSettings,
    account_id: str,
    ttl_s: int = 24 * 3600,
    roles: Sequence[str] = (),
) -> str:
    """An HS256 token for local use, with a `roles` claim when `roles` is given. Refused
    outside development and test."""
    if settings.environment is Environment.PRODUCTION:
        raise RuntimeError("Herald does not issue tokens in production")
    now = int(time.time())
    claims: dict[str, object] = {"sub": account_id, "iat": now, "exp": now + ttl_s}
    if roles:
        claims["roles"] = list(roles)
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def main() -> None:
    parser = argparse.ArgumentParser(description="Mint a dev-only JWT for the local stack.")
    parser.add_argument("account_id")
    parser.add_argument("--ttl", type=int, default=24 * 3600)
    parser.add_argument(
        "--role", action="append", default=[], help="a role for the token (e.g. herald-operator)"
    )
    args = parser.parse_args()
    print(mint_dev_token(HeraldSettings(), args.account_id, args.ttl, args.role))


if __name__ == "__main__":
    main()
