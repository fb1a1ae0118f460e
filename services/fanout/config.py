"""Fan-out settings: the shared `HERALD_` ones plus `HERALD_FANOUT_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import HeraldSettings


class FanoutSettings(HeraldSettings):
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_FANOUT_OPS_HOST")
    ops_port: int = Field(default=8083, validation_alias="HERALD_FANOUT_OPS_PORT")
    # Channels with at most this many followers get per-follower feed rows at write time;
    # larger ones are merged at read time. bench/fanout_write.py measured 10k rows in well
    # under 100 ms, so 10k stays the default.
    write_max_followers: int = Field(
        default=10_000, ge=0, validation_alias="HERALD_FANOUT_WRITE_MAX_FOLLOWERS"
    )
    # A batch holds at most this many records: the size bounds one transaction (and
    # memory). It takes what is already fetched and goes; only after a full batch (load)
    # does the next one linger up to the wait for more, so an idle system adds no delay.
    batch_max_records: int = Field(
        default=500, ge=1, le=5000, validation_alias="HERALD_FANOUT_BATCH_MAX_RECORDS"
    )
    batch_max_wait_s: float = Field(
        default=0.1, gt=0, le=5.0, validation_alias="HERALD_FANOUT_BATCH_MAX_WAIT_S"
    )
    # Backoff between attempts while Postgres (or the DLQ) is unavailable.
    retry_initial_s: float = Field(
        default=0.2, gt=0, validation_alias="HERALD_FANOUT_RETRY_INITIAL_S"
    )
    retry_max_s: float = Field(default=5.0, gt=0, validation_alias="HERALD_FANOUT_RETRY_MAX_S")
    # At most one counters event per post per this many seconds on the live topic.
    counters_live_interval_s: float = Field(
        default=1.0, gt=0, validation_alias="HERALD_FANOUT_COUNTERS_LIVE_INTERVAL_S"
    )
    # How often rows whose interaction event was lost are found and counted.
    reconcile_interval_s: float = Field(
        default=10.0, gt=0, validation_alias="HERALD_FANOUT_RECONCILE_INTERVAL_S"
    )
    # How often the windowed directory stats are written to channel_stats.
    stats_flush_interval_s: float = Field(
        default=10.0, gt=0, validation_alias="HERALD_FANOUT_STATS_FLUSH_INTERVAL_S"
    )
