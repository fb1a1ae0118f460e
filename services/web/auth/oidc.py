"""OpenID Connect login: authorization code with PKCE (S256), state and nonce.

`begin` stores a login in progress in `web_logins` (the SHA-256 of its state, its nonce
and PKCE verifier) and gives the provider URL; the browser keeps the state in a cookie,
so a callback is accepted only in the browser that started it and only once. `finish`
exchanges the code, verifies the ID token (signature from the provider's JWKS, issuer,
audience, expiry, and the nonce) and returns the provider's tokens: the `sub` becomes
the account id and the access token is what the APIs get. `refresh` renews an access
token; when the provider refuses, the session is deleted (the browser is logged out).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import jwt
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from services.web.config import WebSettings
from services.web.sessions import Session, SessionStore
from shared.auth import ACCOUNT_ID_MAX, LEEWAY_S
from shared.jwks import JWKS_ALGORITHMS, parse_jwks

log = logging.getLogger(__name__)
LOGIN_TTL_S = 600
CALLBACK_PATH = "/auth/callback"
LOGIN_STATE_COOKIE = "herald_login"
HTTP_TIMEOUT_S = 10.0


class LoginRefused(Exception):
    """The callback cannot log anyone in; the message is for the page."""


@dataclass(frozen=True)
class ProviderTokens:
    account_id: str
    access_token: str
    refresh_token: str | None
    access_expires_at: datetime | None


class OidcClient:
    def __init__(self, settings: WebSettings, pool: asyncpg.Pool) -> None:
        assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
        self._settings = settings
        self._issuer: str = settings.oidc_issuer
        self._client_id: str = settings.oidc_client_id
        self._pool = pool
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = asyncio.Lock()
        self.redirect_uri = settings.public_url + CALLBACK_PATH

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._settings.oidc_client_secret,
            scope=self._settings.oidc_scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_S,
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once."""
        async with self._lock:
            if self._metadata is None:
                url = self._issuer + "/.well-known/openid-configuration"
                async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
                    response = await http.get(url)
                    response.raise_for_status()
                document = response.json()
                if not isinstance(document, dict) or document.get("issuer") != self._issuer:
                    raise LoginRefused("The login provider's configuration does not match.")
                self._metadata = document
            return self._metadata

    async def _signing_key(self, kid: object) -> jwt.PyJWK | None:
        """The provider key named `kid`, fetching the key set when it is not known yet (a
        login is rare enough to fetch on every miss). Without a `kid`, the provider's one
        key, if it has exactly one: OpenID Connect lets a provider leave `kid` out then."""
        for attempt in range(2):
            if attempt or not self._keys:
                metadata = await self.metadata()
                async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
                    response = await http.get(str(metadata["jwks_uri"]))
                    response.raise_for_status()
                self._keys = parse_jwks(response.json())
            if kid is None and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            if isinstance(kid, str) and kid in self._keys:
                return self._keys[kid]
        return None

    async def begin(self, next_path: str) -> tuple[str, str]:
        """(the provider URL to send the browser to, the state for its cookie)."""
        metadata = await self.metadata()
        state, nonce, verifier = generate_token(43), generate_token(43), generate_token(64)
        await self._pool.execute(
            """
            INSERT INTO web_logins (hash, nonce, code_verifier, next_path, expires_at)
            VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
            """,
            _digest(state),
            nonce,
            verifier,
            next_path,
            float(LOGIN_TTL_S),
        )
        await self._pool.execute(
            "DELETE FROM web_logins WHERE hash IN (SELECT hash FROM web_logins "
            "WHERE expires_at < now() LIMIT 500)"
        )
        async with self._client() as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(verifier),
                code_challenge_method="S256",
            )
        return url, state

    async def finish(
        self, state: str, cookie_state: str | None, code: str
    ) -> tuple[ProviderTokens, str]:
        """The provider's tokens and the path to return to; LoginRefused when the state is
        not this browser's, is used or old, or the ID token is wrong."""
        if not cookie_state or not hmac.compare_digest(state, cookie_state):
            raise LoginRefused("This login did not start in this browser; try again.")
        row = await self._pool.fetchrow(
            "DELETE FROM web_logins WHERE hash = $1 AND expires_at > now() "
            "RETURNING nonce, code_verifier, next_path",
            _digest(state),
        )
        if row is None:
            raise LoginRefused("This login has expired or was already used; try again.")
        metadata = await self.metadata()
        async with self._client() as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=row["code_verifier"],
                )
            except Exception as exc:  # authlib raises OAuthError or httpx errors
                log.info("oidc code exchange refused", extra={"error": str(exc)})
                raise LoginRefused("The login provider refused this login; try again.") from None
        claims = await self._verify_id_token(token.get("id_token"), row["nonce"])
        return _tokens(claims["sub"], token), str(row["next_path"])

    async def _verify_id_token(self, id_token: object, nonce: str) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise LoginRefused("The login provider sent no ID token.")
        try:
            header = jwt.get_unverified_header(id_token)
            key = None
            if header.get("alg") in JWKS_ALGORITHMS:
                key = await self._signing_key(header.get("kid"))
            if key is None:
                raise LoginRefused("The ID token's signing key is unknown.")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[key.algorithm_name],
                audience=self._client_id,
                issuer=self._issuer,
                leeway=LEEWAY_S,
                options={"require": ["sub", "exp", "iat", "aud", "iss"]},
            )
        except jwt.PyJWTError as exc:
            log.info("oidc id token refused", extra={"error": str(exc)})
            raise LoginRefused("The login provider's ID token is not valid.") from None
        # The nonce ties the ID token to the login this browser started: a token replayed
        # from another login carries another nonce.
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, nonce):
            raise LoginRefused("The ID token does not belong to this login.")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not 1 <= len(sub) <= ACCOUNT_ID_MAX:
            raise LoginRefused("The login provider's account id is not usable here.")
        return claims

    async def refresh(self, store: SessionStore, session: Session) -> Session | None:
        """The session with a renewed access token; None (and the session deleted) when
        the provider refuses the refresh token."""
        assert session.refresh_token is not None
        try:
            metadata = await self.metadata()
            async with self._client() as client:
                token = await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=session.refresh_token
                )
        except Exception as exc:  # refused, or the provider unreachable: the session ends
            log.info("oidc refresh failed; session ended", extra={"error": str(exc)})
            await store.delete(session.hash)
            return None
        tokens = _tokens(session.account_id, token)
        return await store.renew_tokens(
            session, tokens.access_token, tokens.refresh_token, tokens.access_expires_at
        )


def _tokens(account_id: str, token: dict[str, Any]) -> ProviderTokens:
    expires_at = token.get("expires_at")
    if not isinstance(expires_at, int | float):
        expires_in = token.get("expires_in")
        expires_at = time.time() + expires_in if isinstance(expires_in, int | float) else None
    refresh = token.get("refresh_token")
    return ProviderTokens(
        account_id=account_id,
        access_token=str(token["access_token"]),
        refresh_token=refresh if isinstance(refresh, str) else None,
        access_expires_at=(
            datetime.fromtimestamp(expires_at, UTC) if expires_at is not None else None
        ),
    )


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()
