"""Metrics of the fan-out service (`herald_fanout_…`). Labels are bounded: topic base
names, outcomes, failure reasons and live event types, never a channel, post or account."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.metrics.common import LATENCY_BUCKETS

# Publish → persisted spans the batch wait, the transaction and any retry: up to minutes
# while Postgres is down, so the buckets reach further than LATENCY_BUCKETS.
PIPELINE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

POSTS_PERSISTED = Counter(
    "herald_fanout_posts_persisted_total",
    "Post events applied to Postgres, by kind (published, edited, deleted, duplicate).",
    ["kind"],
)
FEED_ROWS_WRITTEN = Counter(
    "herald_fanout_feed_rows_written_total",
    "feed_items rows written by write-time fan-out.",
)
FANOUT_DECISIONS = Counter(
    "herald_fanout_posts_fanned_total",
    "New posts by fan-out mode: write (feed rows written) or read (merged at read time).",
    ["mode"],
)
BATCH_SECONDS = Histogram(
    "herald_fanout_batch_duration_seconds",
    "Time to apply one batch (transaction, DLQ, live events, offset commit), by topic.",
    ["topic"],
    buckets=LATENCY_BUCKETS,
)
PUBLISH_TO_PERSISTED_SECONDS = Histogram(
    "herald_fanout_publish_to_persisted_seconds",
    "From an event's time (post created_at, interaction occurred_at) to its commit, by topic.",
    ["topic"],
    buckets=PIPELINE_BUCKETS,
)
LIVE_EVENTS = Counter(
    "herald_fanout_live_events_total",
    "Events emitted on the live topic, by event type and outcome (sent, failed).",
    ["type", "outcome"],
)
BATCH_RETRIES = Counter(
    "herald_fanout_batch_retries_total",
    "Batch attempts that failed and were retried (a transient error, or one of the bounded "
    "retries of a handler error), by topic.",
    ["topic"],
)
RECORDS_FAILED = Counter(
    "herald_fanout_records_failed_total",
    "Records the handler could not apply even alone, sent to the DLQ, by topic and reason "
    "(handler_error: an exception in Herald's code; database_refused: a value Postgres "
    "refused).",
    ["topic", "reason"],
)
RECORDS_UNREADABLE = Counter(
    "herald_fanout_records_unreadable_total",
    "Sealed records skipped because their content key was destroyed (the post was deleted, "
    "edited over or expired before the record was met again), by topic. Never DLQ'd.",
    ["topic"],
)
COUNTER_DELTAS = Counter(
    "herald_fanout_interactions_counted_total",
    "Per-account interaction rows whose change was counted, by kind (reaction, vote, "
    "follow) — replays move nothing and add nothing here.",
    ["kind"],
)
COUNTERS_RECONCILED = Counter(
    "herald_fanout_rows_reconciled_total",
    "Per-account interaction rows counted by the reconciliation sweep because no event "
    "announced them (their event was lost while the broker was down).",
)
