"""Web settings: the shared `HERALD_` ones plus `HERALD_WEB_…` for this service.

Web is a client of the publisher and feed APIs (their URLs below); the one table it owns
is `web_sessions`. `HERALD_WEB_AUTH` picks how people log in: `dev` (a form that signs a
token for any name, refused in production) or `oidc` (authorization code + PKCE against
an OpenID provider, whose access token web forwards to the APIs).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import Field, field_validator, model_validator

from shared.settings import Environment, HeraldSettings


class AuthMode(StrEnum):
    DEV = "dev"
    OIDC = "oidc"


class WebSettings(HeraldSettings):
    host: str = Field(default="127.0.0.1", validation_alias="HERALD_WEB_HOST")
    port: int = Field(default=8080, validation_alias="HERALD_WEB_PORT")
    # /healthz, /readyz and /metrics for Prometheus; the public port has no /metrics.
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_WEB_OPS_HOST")
    ops_port: int = Field(default=8090, validation_alias="HERALD_WEB_OPS_PORT")
    auth: AuthMode = Field(default=AuthMode.DEV, validation_alias="HERALD_WEB_AUTH")
    publisher_url: str = Field(
        default="http://127.0.0.1:8081", validation_alias="HERALD_WEB_PUBLISHER_URL"
    )
    feed_url: str = Field(default="http://127.0.0.1:8082", validation_alias="HERALD_WEB_FEED_URL")
    # The feed as browsers reach it (pages open its stream directly), when that differs
    # from HERALD_WEB_FEED_URL (a container network name, say). Empty: the same URL.
    feed_public_url: str | None = Field(default=None, validation_alias="HERALD_WEB_FEED_PUBLIC_URL")
    # Where browsers reach this app (scheme, host, port): the OIDC redirect URI is built on
    # it, and it is the origin the APIs' CORS list must name.
    public_url: str = Field(
        default="http://127.0.0.1:8080", validation_alias="HERALD_WEB_PUBLIC_URL"
    )
    # A session lasts this long from login at most (a dev token is minted for as long).
    session_ttl_s: int = Field(
        default=12 * 3600, ge=60, le=30 * 24 * 3600, validation_alias="HERALD_WEB_SESSION_TTL_S"
    )
    # How long one API call may take: a publish answers once the broker acknowledged it.
    api_timeout_s: float = Field(default=30.0, gt=0, validation_alias="HERALD_WEB_API_TIMEOUT_S")
    # The OpenID provider (HERALD_WEB_AUTH=oidc): its issuer URL (discovery document at
    # `<issuer>/.well-known/openid-configuration`) and this app's client registration.
    oidc_issuer: str | None = Field(default=None, validation_alias="HERALD_WEB_OIDC_ISSUER")
    oidc_client_id: str | None = Field(default=None, validation_alias="HERALD_WEB_OIDC_CLIENT_ID")
    oidc_client_secret: str | None = Field(
        default=None, repr=False, validation_alias="HERALD_WEB_OIDC_CLIENT_SECRET"
    )
    # `offline_access` asks for a refresh token; without one a session ends with its token.
    oidc_scopes: str = Field(
        default="openid profile offline_access", validation_alias="HERALD_WEB_OIDC_SCOPES"
    )

    @field_validator("oidc_issuer", "oidc_client_id", "oidc_client_secret", "feed_public_url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("publisher_url", "feed_url", "feed_public_url", "public_url", "oidc_issuer")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        production = self.environment is Environment.PRODUCTION
        if self.auth is AuthMode.DEV and production:
            raise ValueError("HERALD_WEB_AUTH=dev is refused in production: use oidc")
        if self.auth is AuthMode.OIDC and (self.oidc_issuer is None or self.oidc_client_id is None):
            raise ValueError(
                "HERALD_WEB_AUTH=oidc requires HERALD_WEB_OIDC_ISSUER and HERALD_WEB_OIDC_CLIENT_ID"
            )
        if production and not self.public_url.startswith("https://"):
            raise ValueError("HERALD_WEB_PUBLIC_URL must be an https URL in production")
        return self

    @property
    def browser_feed_url(self) -> str:
        """The feed's URL for browsers: stream URLs in pages, and the CSP's allowance."""
        return self.feed_public_url or self.feed_url

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry `Secure` everywhere but development (plain-http localhost)."""
        return self.environment is not Environment.DEVELOPMENT
