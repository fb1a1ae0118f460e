"""Typed settings shared by every service (env prefix `HERALD_`).

Each service extends `HeraldSettings` in its own `config.py` with what only it needs.
Settings are validated at start: a production process refuses placeholder secrets.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.content.keys import DEV_MASTER_KEY, MasterKeys

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0000"  # noqa: S105 - the placeholder itself
# A browser origin: scheme, host and optional port; no path, not even a trailing slash
# (browsers send none, so such an entry would silently never match).
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
# One Kafka bootstrap server: a host name, IPv4 or [IPv6] address, and a port (Kafka's
# 9092 when left out). No scheme: `kafka://…` is faust's spelling, not the clients'.
_BROKER = re.compile(r"^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")
# A VAPID contact (RFC 8292 `sub`): a mailto: address or an https: URL.
_CONTACT = r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class HeraldSettings(BaseSettings):
    """What every Herald process needs: where Kafka and Postgres are, how to verify tokens."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", env_file=".env", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    # Prefix for topic names and consumer groups: lets several test runs or tenants share
    # one broker without seeing each other's messages. Empty in a normal deployment.
    namespace: str = Field(default="", pattern=r"^[a-z0-9_.-]{0,40}$")
    # One broker or several, comma-separated (`host:port,host:port,…`): any one that
    # answers tells the client where the others are.
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_replication_factor: int = Field(default=1, ge=1, le=5)
    # `min.insync.replicas` of the topics Herald creates: with `acks=all`, a send is
    # acknowledged only once this many replicas have it. Unset: the broker's default.
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1, le=5)
    # The primary (through a router such as HAProxy in cluster mode): every write and
    # every read of an account's own state.
    database_url: str = "postgresql://herald@127.0.0.1:15432/herald"
    # Optional replica (read by the feed only): anonymous reads of public data go there,
    # never a read that carries the caller's own state. Empty: everything on the primary.
    database_read_url: str | None = None
    db_pool_min: int = Field(default=2, ge=1, le=100)
    db_pool_max: int = Field(default=10, ge=1, le=200)
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key_file: Path | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    # An OpenID provider's JWKS (RS256/ES256 keys, fetched and cached): tokens naming one
    # of its keys by `kid` verify with it; then issuer and audience are required, and in
    # production the URL must be https.
    jwt_jwks_url: str | None = None
    media_dir: Path = Path(".local/media")
    log_level: str = "INFO"
    log_json: bool = True
    # Bounded waits for dependencies at start: a missing broker fails the process, not hangs it.
    startup_timeout_s: float = Field(default=60.0, gt=0)
    produce_timeout_s: float = Field(default=5.0, gt=0)
    # Web Push (read by the feed and the push service). The VAPID private key (PEM, P-256):
    # created here on first start outside production, and kept, since browsers bind every
    # subscription to its public half; in production the file must exist.
    push_vapid_private_key_file: Path = Path(".local/push/vapid-private-key.pem")
    # Admit `http` endpoints and internal addresses (a test push receiver on loopback).
    # Refused in production: it would let any account make Herald call its own network.
    push_allow_insecure_endpoints: bool = False
    # Who push services may contact about our traffic: the VAPID `sub` claim.
    push_contact: str = Field(default="mailto:operator@herald.invalid", pattern=_CONTACT)
    # Crypto-shredding (read by the publisher and fan-out): comma-separated
    # `id:base64url(32 bytes)` master keys, the first wraps new content keys, the others
    # still unwrap (rotation). Empty: the development placeholder, refused in production.
    content_master_key: str = Field(default="", repr=False)

    @field_validator("jwt_audience", "jwt_issuer", "jwt_jwks_url", "database_read_url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        # `HERALD_JWT_ISSUER=` (as in .env.example) means "not configured", not "".
        return value or None

    @field_validator("kafka_min_insync_replicas", mode="before")
    @classmethod
    def _empty_count_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = _split(value)
        if not servers:
            raise ValueError("HERALD_KAFKA_BOOTSTRAP names no broker")
        for server in servers:
            if not _BROKER.fullmatch(server):
                raise ValueError(
                    f"HERALD_KAFKA_BOOTSTRAP: {server!r} is not host[:port] "
                    "(several brokers: comma-separated)"
                )
        # Normalised: what every Kafka client of Herald is given.
        return ",".join(servers)

    @model_validator(mode="after")
    def _check_min_insync(self) -> Self:
        wanted = self.kafka_min_insync_replicas
        if wanted is not None and wanted > self.kafka_replication_factor:
            # The broker would accept such a topic and then refuse every `acks=all` send.
            raise ValueError(
                "HERALD_KAFKA_MIN_INSYNC_REPLICAS must not exceed HERALD_KAFKA_REPLICATION_FACTOR"
            )
        return self

    @model_validator(mode="after")
    def _check_jwks(self) -> Self:
        if self.jwt_jwks_url is None:
            return self
        if self.jwt_issuer is None or self.jwt_audience is None:
            raise ValueError(
                "HERALD_JWT_JWKS_URL requires HERALD_JWT_ISSUER and HERALD_JWT_AUDIENCE: "
                "a provider's keys sign tokens for other applications too"
            )
        scheme, _, rest = self.jwt_jwks_url.partition("://")
        allowed = ("https",) if self.environment is Environment.PRODUCTION else ("https", "http")
        if scheme.lower() not in allowed or not rest:
            raise ValueError(
                f"HERALD_JWT_JWKS_URL must be an {' or '.join(allowed)} URL"
                + (" in production" if self.environment is Environment.PRODUCTION else "")
            )
        return self

    @model_validator(mode="after")
    def _refuse_insecure_push_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and self.push_allow_insecure_endpoints:
            raise ValueError("HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS is refused in production")
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if (
            self.environment is Environment.PRODUCTION
            and self.jwt_public_key_file is None
            and self.jwt_jwks_url is None
            and self.weak_jwt_secret
        ):
            raise ValueError(
                "HERALD_JWT_SECRET must be a real secret of at least 32 characters "
                "(or set HERALD_JWT_PUBLIC_KEY_FILE or HERALD_JWT_JWKS_URL) in production"
            )
        return self

    @property
    def weak_jwt_secret(self) -> bool:
        """The placeholder or a short secret: never trusted in production (with a JWKS
        URL and such a secret, production verifies JWKS tokens only)."""
        return self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32

    def content_master_keys(self) -> MasterKeys:
        """The parsed master keys; ValueError when malformed, or missing or the development
        placeholder in production. Called at start by the services that need it."""
        value = self.content_master_key or DEV_MASTER_KEY
        if self.environment is Environment.PRODUCTION and not self.content_master_key:
            raise ValueError("HERALD_CONTENT_MASTER_KEY is required in production")
        return MasterKeys.from_setting(value, production=self.environment is Environment.PRODUCTION)

    def topic(self, base_name: str) -> str:
        """The concrete topic name for a declared topic in this namespace."""
        return f"{self.namespace}.{base_name}" if self.namespace else base_name

    def group(self, base_name: str) -> str:
        """The concrete consumer-group id for a role in this namespace."""
        return f"{self.namespace}.{base_name}" if self.namespace else base_name


class HttpServiceSettings(HeraldSettings):
    """Settings shared by the HTTP services (publisher, feed)."""

    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Token bucket per account (and per IP for anonymous reads): sustained rate and burst.
    rate_per_second: float = Field(default=20.0, gt=0)
    rate_burst: int = Field(default=60, ge=1)
    # Token bucket per client IP for failed authentication (an invalid or malformed bearer
    # token): past the burst, that IP's bearer requests get 429 until it refills, without
    # a token being verified. Generous, so a few clients behind one NAT with stale tokens
    # are not locked out; tight enough to make guessing or replaying token lists slow.
    auth_failure_rate_per_second: float = Field(default=1.0, gt=0)
    auth_failure_burst: int = Field(default=60, ge=1)
    # Browser origins allowed to call the API, comma-separated
    # ("https://app.example.org,https://admin.example.org"); empty: no CORS headers at all,
    # so browsers allow same-origin calls only. Explicit origins only, never "*".
    cors_origins: str = ""
    # Herald operators (the `/v1/operator/…` endpoints), comma-separated account ids; a
    # token whose `roles` claim holds `herald-operator` is an operator too. Empty: operators
    # come from tokens only.
    operator_accounts: str = ""

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: str) -> str:
        for origin in _split(value):
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"HERALD_CORS_ORIGINS: {origin!r} is not an origin like https://app.example.org"
                )
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_origins)

    @property
    def operator_account_set(self) -> frozenset[str]:
        return frozenset(_split(self.operator_accounts))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
