"""Metrics of the push service (`herald_push_…`).

Labels are bounded: `host` is one of the known push services or `other`
(services.push.sender.hosts.HOST_LABELS), `outcome` one of the sender's outcomes,
`status_class` an HTTP status class or `error`. Never a subscription, endpoint, account
or post.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from shared.metrics.common import LATENCY_BUCKETS

# --- the Web Push sender (services/push/sender) ---

PUSH_SENDS = Counter(
    "herald_push_sends_total",
    "Pushes the sender finished, by push-service host and outcome (delivered, gone, "
    "too_large, refused, failed).",
    ["host", "outcome"],
)
PUSH_REQUESTS = Counter(
    "herald_push_requests_total",
    "HTTP requests to push services (retries included), by host and status class "
    "(2xx, 3xx, 4xx, 5xx, or error: timeout or connection failure).",
    ["host", "status_class"],
)
PUSH_REQUEST_SECONDS = Histogram(
    "herald_push_request_duration_seconds",
    "Time from request sent to response status received, by push-service host.",
    ["host"],
    buckets=LATENCY_BUCKETS,
)
PUSH_RETRIES = Counter(
    "herald_push_retries_total",
    "Requests repeated after a 429, 5xx, timeout or connection failure, by host.",
    ["host"],
)
PUSH_BREAKER_OPENED = Counter(
    "herald_push_breaker_opened_total",
    "Times a host's circuit breaker opened (consecutive failures), by host.",
    ["host"],
)
PUSH_BREAKERS_OPEN = Gauge(
    "herald_push_breakers_open",
    "Push-service hosts whose circuit breaker is open now (among those remembered).",
)

# --- the push service: planner and shard sender (services/push) ---

POSTS_PLANNED = Counter(
    "herald_push_posts_planned_total",
    "Visible posts the planner handled, by outcome (planned: shards produced; silent; "
    "no_audience: no subscribed follower).",
    ["outcome"],
)
SHARDS_PRODUCED = Counter(
    "herald_push_shards_produced_total",
    "Shard records the planner produced to herald.push.v1 (acknowledged by the broker).",
)
AUDIENCE_SUBSCRIPTIONS = Histogram(
    "herald_push_post_audience_subscriptions",
    "Push subscriptions a planned post reaches.",
    buckets=(1, 10, 100, 1_000, 10_000, 100_000, 1_000_000),
)
SHARDS = Counter(
    "herald_push_shards_total",
    "Shards the sender finished, by outcome (sent; dropped: the post was deleted or "
    "expired, or its channel is no longer active, before the shard was sent).",
    ["outcome"],
)
SHARD_SECONDS = Histogram(
    "herald_push_shard_duration_seconds",
    "Time to send one shard: its pages selected and every push finished.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
SUBSCRIPTIONS_DELETED = Counter(
    "herald_push_subscriptions_deleted_total",
    "Subscriptions deleted because their push service answered 404 or 410.",
)
