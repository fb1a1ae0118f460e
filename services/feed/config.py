"""Feed settings: the shared `HERALD_` ones plus `HERALD_FEED_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import HttpServiceSettings


class FeedSettings(HttpServiceSettings):
    host: str = Field(default="127.0.0.1", validation_alias="HERALD_FEED_HOST")
    port: int = Field(default=8082, validation_alias="HERALD_FEED_PORT")
