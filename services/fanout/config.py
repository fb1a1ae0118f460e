"""Fan-out settings: the shared `HERALD_` ones plus `HERALD_FANOUT_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import HeraldSettings


class FanoutSettings(HeraldSettings):
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_FANOUT_OPS_HOST")
    ops_port: int = Field(default=8083, validation_alias="HERALD_FANOUT_OPS_PORT")
    # Channels with at most this many followers get per-follower feed rows at write time;
    # larger ones are merged at read time. The fan-out benchmark decides the default.
    write_max_followers: int = Field(
        default=10_000, ge=0, validation_alias="HERALD_FANOUT_WRITE_MAX_FOLLOWERS"
    )
