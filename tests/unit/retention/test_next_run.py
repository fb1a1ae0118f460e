"""When the retention service runs next: a failover is retried within seconds, anything
else waits for the interval (the run is restartable either way)."""

from __future__ import annotations

import asyncpg

from services.retention.config import RetentionSettings
from services.retention.service import FAILOVER_RETRY_S, next_run_in


def settings(interval_s: float) -> RetentionSettings:
    return RetentionSettings(environment="test", HERALD_RETENTION_INTERVAL_S=interval_s)


def test_a_successful_run_waits_for_the_interval() -> None:
    assert next_run_in(settings(300), None) == 300


def test_a_lost_or_demoted_primary_is_retried_soon() -> None:
    for failure in (
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute DELETE in a read-only transaction"),
        ConnectionRefusedError(111, "Connection refused"),
    ):
        assert next_run_in(settings(300), failure) == FAILOVER_RETRY_S


def test_a_short_interval_is_never_lengthened() -> None:
    assert next_run_in(settings(1), asyncpg.AdminShutdownError("gone")) == 1


def test_other_failures_wait_for_the_interval() -> None:
    # A bug or a refused value does not heal in seconds: retrying it would only spin.
    assert next_run_in(settings(300), ValueError("bad row")) == 300
    assert next_run_in(settings(300), asyncpg.UniqueViolationError("dup")) == 300
