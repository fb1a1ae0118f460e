"""The feed service's own metrics (HTTP, produce, pool and consumer lag are in `common`).

Labels take a handful of fixed values (event kind, reason); never an account, channel
or post id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Publish → push spans the fan-out's batch and transaction and the live topic hop, up to
# minutes while a dependency is down: wider than the request latency buckets.
PIPELINE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

# With several feed workers (multiprocess mode, `shared.metrics.multiprocess`) each live
# worker's count is its own series, labelled `pid`: dashboards sum them.
SSE_CONNECTIONS = Gauge(
    "herald_feed_sse_connections",
    "Server-Sent Events streams currently open on this process.",
    multiprocess_mode="liveall",
)
SSE_EVENTS_PUSHED = Counter(
    "herald_feed_sse_events_pushed_total",
    "Events written to SSE streams, by event (post, post_deleted, counters, "
    "history_trimmed, resync) and source (live, replay).",
    ["event", "source"],
)
PUBLISH_TO_PUSH_SECONDS = Histogram(
    "herald_feed_publish_to_push_seconds",
    "From a new post's created_at (its publish) to its push onto this process's SSE "
    "streams; once per post that has listeners here.",
    buckets=PIPELINE_BUCKETS,
)
SSE_REJECTED = Counter(
    "herald_feed_sse_rejected_total",
    "Streams refused at connect, by reason (account_limit, process_limit).",
    ["reason"],
)
SSE_SLOW_CLIENTS_DROPPED = Counter(
    "herald_feed_sse_slow_clients_dropped_total",
    "Streams cut off because they stopped reading: more than HERALD_FEED_SSE_QUEUE_MAX "
    "events' worth of bytes (8 KiB each) waited to be sent to them, or was held for them "
    "while their replay ran (they resume with Last-Event-ID).",
)
LIVE_EVENTS_CONSUMED = Counter(
    "herald_feed_live_events_total",
    "herald.live.v1 records consumed, by outcome (dispatched, no_listener, poison).",
    ["outcome"],
)
INTERACTIONS_EMITTED = Counter(
    "herald_feed_interactions_emitted_total",
    "Interaction events produced, by kind (follow, reaction, vote, view).",
    ["kind"],
)
