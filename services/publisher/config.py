"""Publisher settings: the shared `HERALD_` ones plus `HERALD_PUBLISHER_…` for this service."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from shared.settings import Environment, HttpServiceSettings


class PublisherSettings(HttpServiceSettings):
    host: str = Field(default="127.0.0.1", validation_alias="HERALD_PUBLISHER_HOST")
    port: int = Field(default=8081, validation_alias="HERALD_PUBLISHER_PORT")
    # /healthz, /readyz and /metrics for Prometheus; the public port has no /metrics.
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_PUBLISHER_OPS_HOST")
    ops_port: int = Field(default=8091, validation_alias="HERALD_PUBLISHER_OPS_PORT")
    # Alerts wake phones that muted the channel (Urgency: high, never replaced), so even a
    # channel an operator trusts with them gets a few per hour, not a stream.
    alerts_per_hour: int = Field(
        default=3, ge=1, le=60, validation_alias="HERALD_PUBLISHER_ALERTS_PER_HOUR"
    )
    # Benchmarks only: false publishes post bodies in the clear (version 1 events, no
    # content key) as the baseline that encryption is measured against. Refused in
    # production: a body in the clear stays readable in the log for its whole retention.
    encrypt_bodies: bool = Field(default=True, validation_alias="HERALD_PUBLISHER_ENCRYPT_BODIES")
    # Scheduled posts: `publish_at` at least this far ahead (DESIGN.md: 1 minute; tests
    # lower it to schedule a second ahead) and at most 30 days.
    schedule_min_ahead_s: float = Field(
        default=60.0, ge=0, le=3600, validation_alias="HERALD_PUBLISHER_SCHEDULE_MIN_AHEAD_S"
    )
    # How often the scheduler looks for due posts: a post goes out at most this long (plus
    # the produce) after its time; the promise is 2 s.
    schedule_poll_s: float = Field(
        default=0.5, gt=0, le=2, validation_alias="HERALD_PUBLISHER_SCHEDULE_POLL_S"
    )

    @model_validator(mode="after")
    def _refuse_clear_bodies_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and not self.encrypt_bodies:
            raise ValueError("HERALD_PUBLISHER_ENCRYPT_BODIES=false is refused in production")
        return self
