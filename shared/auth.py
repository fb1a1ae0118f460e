"""Bearer-token verification, and a dev-only command that mints tokens.

Herald verifies JWTs and never issues them in production: `sub` is the opaque account id.
Two verifiers may coexist, and a token's header picks one:

- an OpenID provider's JWKS (`HERALD_JWT_JWKS_URL`, `shared.jwks`): a token whose header
  names a key id (`kid`) with `alg` RS256 or ES256 verifies with that provider key, its
  issuer and audience required;
- the static key: the HS256 secret, or the RS256/ES256 public key file when one is set.
  In production the placeholder (or a short) secret verifies nothing: with a JWKS URL
  and no real secret, production accepts JWKS tokens only.

Only the configured algorithms are accepted, so `none` and HS/RS confusion fail; a JWKS
key verifies only with the one algorithm of its type. `exp` is required, `nbf` and `iat`
are honoured, each with `LEEWAY_S` of clock skew.

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

from shared.jwks import JWKS_ALGORITHMS, KID_MAX, JwksKeys
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
    """Verifies bearer tokens as the settings say. `verify` uses the static key only and
    never does I/O; `authenticate` also takes JWKS tokens (it may fetch the key set, so it
    is async). Raises InvalidToken, or JwksUnavailable when a token names a JWKS key and
    the provider's keys could never be fetched."""

    def __init__(self, settings: HeraldSettings, *, jwks: JwksKeys | None = None) -> None:
        self._key: str | None
        if settings.jwt_public_key_file is not None:
            self._key = settings.jwt_public_key_file.read_text()
            self._algorithms = ["RS256", "ES256"]
        else:
            production = settings.environment is Environment.PRODUCTION
            # Settings let a weak secret into production only beside a JWKS URL: then
            # it must verify nothing.
            self._key = None if production and settings.weak_jwt_secret else settings.jwt_secret
            self._algorithms = ["HS256"]
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        if jwks is None and settings.jwt_jwks_url is not None:
            jwks = JwksKeys(settings.jwt_jwks_url)
        self._jwks = jwks

    def verify(self, token: str) -> Principal:
        """The principal of a token signed with the static key (secret or key file)."""
        if self._key is None:
            raise InvalidToken("this token's signing key is not accepted here")
        return self._decode(token, self._key, self._algorithms)

    async def authenticate(self, token: str) -> Principal:
        """The principal of a token from either verifier, chosen by its header: a `kid`
        with RS256/ES256 looks in the JWKS first (fetching it when the kid is unknown,
        within the refresh limit); everything else goes to `verify`."""
        if self._jwks is not None:
            try:
                header = jwt.get_unverified_header(token)
            except jwt.PyJWTError as exc:
                raise InvalidToken(str(exc)) from None
            kid, alg = header.get("kid"), header.get("alg")
            if isinstance(kid, str) and alg in JWKS_ALGORITHMS:
                if not 1 <= len(kid) <= KID_MAX:
                    raise InvalidToken("kid must be a string of 1 to 256 characters")
                key = await self._jwks.get(kid)
                if key is not None:
                    return self._decode(token, key, [key.algorithm_name])
                # A public key file may sign tokens that carry a kid of their own.
                if self._key is None or alg not in self._algorithms:
                    raise InvalidToken("the token's signing key is unknown")
        return self.verify(token)

    def _decode(self, token: str, key: str | jwt.PyJWK, algorithms: list[str]) -> Principal:
        require = ["sub", "exp"]
        if self._audience is not None:
            require.append("aud")
        if self._issuer is not None:
            require.append("iss")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": require, "verify_aud": self._audience is not None},
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
