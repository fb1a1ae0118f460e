"""Metrics of the retention service (`herald_retention_…`).

Labels are bounded: `table` is one of the partitioned/content tables, `topic` a declared
base topic name, `reason` a fixed word. Never a channel, post or account id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "herald_retention_runs_total",
    "Retention runs by outcome (ok, skipped: another instance held the lock, failed).",
    ["outcome"],
)
RUN_SECONDS = Histogram(
    "herald_retention_run_duration_seconds",
    "Wall time of one complete retention run.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)
LAST_SUCCESS = Gauge(
    "herald_retention_last_success_timestamp_seconds",
    "Unix time at which the last successful retention run finished.",
)
PARTITIONS_CREATED = Counter(
    "herald_retention_partitions_created_total",
    "Day partitions created ahead of time, by table.",
    ["table"],
)
PARTITIONS_DROPPED = Counter(
    "herald_retention_partitions_dropped_total",
    "Day partitions dropped because every row was past the longest retention, by table.",
    ["table"],
)
POSTS_EXPIRED = Counter(
    "herald_retention_posts_expired_total",
    "Posts deleted row by row (in batches), by reason (expired: a shorter channel "
    "retention; channel_deleted). Posts leaving with a dropped partition are not counted.",
    ["reason"],
)
MEDIA_EXPIRED = Counter(
    "herald_retention_media_expired_total",
    "Media rows deleted, by reason (expired, unused, channel_deleted).",
    ["reason"],
)
MEDIA_FILES_DELETED = Counter(
    "herald_retention_media_files_deleted_total",
    "Files removed from the media store once no media row used their key.",
)
HISTORY_TRIMMED = Counter(
    "herald_retention_history_trimmed_total",
    "live.history_trimmed events acknowledged by the broker.",
)
OLDEST_CONTENT_AGE = Gauge(
    "herald_retention_oldest_content_age_seconds",
    "Age of the oldest content still stored, by table (day-partitioned tables: the start "
    "of the oldest non-empty partition).",
    ["table"],
)
TOPIC_CONFIGS_CORRECTED = Counter(
    "herald_retention_topic_configs_corrected_total",
    "Topic configs found above Herald's limits and corrected, by topic and config key.",
    ["topic", "config"],
)
