"""Publisher settings: the shared `HERALD_` ones plus `HERALD_PUBLISHER_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import HttpServiceSettings


class PublisherSettings(HttpServiceSettings):
    host: str = Field(default="127.0.0.1", validation_alias="HERALD_PUBLISHER_HOST")
    port: int = Field(default=8081, validation_alias="HERALD_PUBLISHER_PORT")
