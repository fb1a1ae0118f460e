"""Metrics every service exports (the `service` label is one of five fixed names).

Gauges name their `multiprocess_mode`: how the feed's workers' values merge into one
scrape (`shared.metrics.multiprocess`); single-process services ignore it. `live…`
modes forget a worker once it exits.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets from 1 ms to 10 s: HTTP handlers, produce acks, SQL statements.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "herald_http_requests_total",
    "HTTP requests answered, by route template and status class (2xx, 4xx, 5xx).",
    ["service", "method", "route", "status_class"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "herald_http_request_duration_seconds",
    "Time from request received to response started, by route template.",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_PRODUCE_SECONDS = Histogram(
    "herald_kafka_produce_duration_seconds",
    "Time from send to broker acknowledgement (acks=all), by topic.",
    ["service", "topic"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_PRODUCE_ERRORS = Counter(
    "herald_kafka_produce_errors_total",
    "Sends the broker did not acknowledge in time, by topic.",
    ["service", "topic"],
)
DLQ_MESSAGES = Counter(
    "herald_dlq_messages_total",
    "Poison messages parked on the DLQ, by consuming service and source topic.",
    ["service", "topic"],
)
# No `duplicate` outcome: a redelivered record is processed (and counted) again, and the
# fan-out counts posts it had already applied as herald_fanout_posts_persisted_total
# {kind="duplicate"}.
CONSUMER_RECORDS = Counter(
    "herald_consumer_records_total",
    "Records consumed, by topic and outcome (processed, dead_lettered).",
    ["service", "topic", "outcome"],
)
CONSUMER_BATCH_SIZE = Histogram(
    "herald_consumer_batch_size_records",
    "Records per processed batch, by topic.",
    ["service", "topic"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
CONSUMER_LAG = Gauge(
    "herald_consumer_lag_records",
    "Records behind the broker's end offset, by topic and partition.",
    ["service", "topic", "partition"],
    # Every feed worker reads every partition: the furthest behind counts.
    multiprocess_mode="livemax",
)
DB_POOL_CONNECTIONS = Gauge(
    "herald_db_pool_connections",
    "Postgres pool connections by state (in_use, idle).",
    ["service", "state"],
    # One pool per worker: the connections of all of them.
    multiprocess_mode="livesum",
)
DB_QUERY_SECONDS = Histogram(
    "herald_db_query_duration_seconds",
    "Time spent in a named database operation.",
    ["service", "operation"],
    buckets=LATENCY_BUCKETS,
)
BUILD_INFO = Gauge(
    "herald_build_info",
    "Always 1; labels say which Herald version runs.",
    ["service", "version"],
    multiprocess_mode="livemax",
)
