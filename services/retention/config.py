"""Retention settings: the shared `HERALD_` ones plus `HERALD_RETENTION_…` for this service."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.settings import HeraldSettings


class RetentionSettings(HeraldSettings):
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_RETENTION_OPS_HOST")
    ops_port: int = Field(default=8084, validation_alias="HERALD_RETENTION_OPS_PORT")
    interval_s: float = Field(default=300.0, gt=0, validation_alias="HERALD_RETENTION_INTERVAL_S")
    # Rows per delete transaction: small enough that a batch holds row locks briefly and a
    # kill loses at most one batch of work, large enough that a day of posts is few batches.
    batch_size: int = Field(
        default=1000, ge=1, le=50_000, validation_alias="HERALD_RETENTION_BATCH_SIZE"
    )
    # Day partitions kept ready ahead of today, so fan-out never waits on DDL.
    partitions_ahead_days: int = Field(
        default=7, ge=1, le=60, validation_alias="HERALD_RETENTION_PARTITIONS_AHEAD_DAYS"
    )
    # A fixed clock for tests and operators (ISO 8601 with offset); unset: the wall clock.
    now: datetime | None = Field(default=None, validation_alias="HERALD_RETENTION_NOW")
    # Bound on waiting for DETACH … CONCURRENTLY (it waits for transactions using the
    # table); a timed-out detach is finalized by the next run.
    detach_timeout_s: float = Field(
        default=60.0, gt=0, validation_alias="HERALD_RETENTION_DETACH_TIMEOUT_S"
    )
