"""Retention settings: the shared `HERALD_` ones plus `HERALD_RETENTION_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import HeraldSettings


class RetentionSettings(HeraldSettings):
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_RETENTION_OPS_HOST")
    ops_port: int = Field(default=8084, validation_alias="HERALD_RETENTION_OPS_PORT")
    interval_s: float = Field(default=300.0, gt=0, validation_alias="HERALD_RETENTION_INTERVAL_S")
