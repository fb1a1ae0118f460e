"""One retention run: every job in order, under a cluster-wide try-lock.

`run_once(…, now)` takes the clock as a parameter: the service passes the wall clock (or
`HERALD_RETENTION_NOW`), tests pass their own. Several instances may run at once: a run
first takes a session-level Postgres advisory try-lock and, when another instance holds
it, skips (returns `skipped=True`). The lock dies with its connection, so a killed
instance never blocks the others.

Order: owed history_trimmed events of an interrupted run → partitions ahead → expired
posts of shorter-retention channels → deleted channels → expired partitions → media →
publisher bookkeeping (idempotency keys, statuses of expired posts) → deletion ledger rows
and audit entries past their 180 days →
history_trimmed events → Kafka topic configs → oldest-content gauges. Every step is
restartable (see each module), so a kill at any point is completed by the next run and
a repeated run changes nothing. A broker outage does not hold deletions back: the owed
events wait in their outbox, and the run is counted failed at the final send.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from services.retention.audit import expire_audit_log
from services.retention.channels import purge_deleted_channels
from services.retention.config import RetentionSettings
from services.retention.expiry import expire_short_retention_posts
from services.retention.ledger import expire_ledger
from services.retention.media import expire_media
from services.retention.partitions import create_ahead, drop_expired, oldest_partition_days
from services.retention.reports import purge_reports
from services.retention.requests import expire_publisher_bookkeeping
from services.retention.topics import check_topic_configs
from services.retention.trims import emit_trims
from shared.kafka import KafkaUnavailable
from shared.media import LocalMediaStore, MediaStore
from shared.metrics.retention import LAST_SUCCESS, OLDEST_CONTENT_AGE, RUN_SECONDS, RUNS
from shared.producer import ProducerHolder

log = logging.getLogger(__name__)

# Arbitrary but fixed (next to the migration lock's 7_405_001): one retention run at a time.
RETENTION_LOCK_ID = 7_405_004


@dataclass
class RunReport:
    skipped: bool = False
    partitions_created: int = 0
    partitions_dropped: list[str] = field(default_factory=list)
    posts_expired: int = 0
    channel_posts_purged: int = 0
    media_deleted: int = 0
    bookkeeping_expired: int = 0
    ledger_expired: int = 0
    trims_emitted: int = 0
    topic_corrections: dict[str, dict[str, str]] = field(default_factory=dict)


async def run_once(
    pool: asyncpg.Pool,
    producer: ProducerHolder,
    settings: RetentionSettings,
    now: datetime,
    store: MediaStore | None = None,
) -> RunReport:
    """One complete run at time `now`; skipped when another instance is running."""
    media_store = store or LocalMediaStore(settings.media_dir)
    started = time.monotonic()
    batch = settings.batch_size
    async with pool.acquire() as lock_conn:
        if not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", RETENTION_LOCK_ID):
            RUNS.labels(outcome="skipped").inc()
            log.info("another retention run holds the lock: skipped")
            return RunReport(skipped=True)
        try:
            report = RunReport()
            try:
                report.trims_emitted += await emit_trims(pool, producer, settings)
            except KafkaUnavailable:
                # Deleting must not wait for the broker; the events stay owed (trims.py).
                log.warning("live topic unavailable: history_trimmed events stay queued")
            report.partitions_created = await create_ahead(
                pool, now, settings.partitions_ahead_days
            )
            report.posts_expired = await expire_short_retention_posts(pool, now, batch)
            report.channel_posts_purged = await purge_deleted_channels(pool, now, batch)
            report.partitions_dropped = await drop_expired(
                pool, now, batch, settings.detach_timeout_s
            )
            report.media_deleted = await expire_media(pool, media_store, now, batch)
            report.bookkeeping_expired = await expire_publisher_bookkeeping(pool, now, batch)
            report.ledger_expired = await expire_ledger(pool, now, batch)
            await expire_audit_log(pool, now, batch)
            await purge_reports(pool, now, batch)
            report.trims_emitted += await emit_trims(pool, producer, settings)
            report.topic_corrections = await check_topic_configs(settings)
            await _observe_oldest(lock_conn, now)
        except BaseException:
            RUNS.labels(outcome="failed").inc()
            raise
        finally:
            await lock_conn.execute("SELECT pg_advisory_unlock($1)", RETENTION_LOCK_ID)
    RUNS.labels(outcome="ok").inc()
    RUN_SECONDS.observe(time.monotonic() - started)
    LAST_SUCCESS.set(time.time())
    log.info("retention run done", extra={"report": report.__dict__})
    return report


async def _observe_oldest(conn: asyncpg.Connection, now: datetime) -> None:
    for table, day in (await oldest_partition_days(conn)).items():
        start = datetime.combine(day, datetime.min.time(), UTC)
        OLDEST_CONTENT_AGE.labels(table=table).set(max(0.0, (now - start).total_seconds()))
    oldest_media = await conn.fetchval("SELECT min(created_at) FROM media")
    OLDEST_CONTENT_AGE.labels(table="media").set(
        max(0.0, (now - oldest_media).total_seconds()) if oldest_media else 0.0
    )
