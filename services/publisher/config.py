"""Publisher settings: the shared `HERALD_` ones plus `HERALD_PUBLISHER_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import HttpServiceSettings


class PublisherSettings(HttpServiceSettings):
    host: str = Field(default="127.0.0.1", validation_alias="HERALD_PUBLISHER_HOST")
    port: int = Field(default=8081, validation_alias="HERALD_PUBLISHER_PORT")
    # Alerts wake phones that muted the channel (Urgency: high, never replaced), so even a
    # channel an operator trusts with them gets a few per hour, not a stream.
    alerts_per_hour: int = Field(
        default=3, ge=1, le=60, validation_alias="HERALD_PUBLISHER_ALERTS_PER_HOUR"
    )
