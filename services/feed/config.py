"""Feed settings: the shared `HERALD_` ones plus `HERALD_FEED_…` for this service.

Every limit a client can push against is a named setting: page sizes, follows per
account, concurrent streams per account and per process, per-stream queue length,
how much an SSE reconnect may replay.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from shared.settings import Environment, HttpServiceSettings

DEV_LIVE_SIGNAL_KEY = "dev-only-live-signal-key-change-me-0000"
DEV_REPORT_KEY = "dev-only-report-key-change-me-00000000000"


class FeedSettings(HttpServiceSettings):
    host: str = Field(default="127.0.0.1", validation_alias="HERALD_FEED_HOST")
    port: int = Field(default=8082, validation_alias="HERALD_FEED_PORT")
    # /healthz, /readyz and /metrics for Prometheus; the public port has no /metrics (live
    # delivery counters would tell anyone whether a channel's followers are online).
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_FEED_OPS_HOST")
    ops_port: int = Field(default=8092, validation_alias="HERALD_FEED_OPS_PORT")
    # A person follows a few hundred channels at most; the cap keeps /updates bounded.
    max_follows_per_account: int = Field(
        default=2000, ge=1, validation_alias="HERALD_FEED_MAX_FOLLOWS"
    )
    # Several devices/tabs per account, not hundreds: over this a new stream gets 429.
    sse_streams_per_account: int = Field(
        default=5, ge=1, validation_alias="HERALD_FEED_SSE_STREAMS_PER_ACCOUNT"
    )
    # Per process: over this a new stream gets 503 and the client backs off.
    sse_max_connections: int = Field(
        default=10_000, ge=1, validation_alias="HERALD_FEED_SSE_MAX_CONNECTIONS"
    )
    # Proxies close idle connections after ~30-60 s; a comment line every 15 s keeps them.
    sse_heartbeat_s: float = Field(
        default=15.0, gt=0, validation_alias="HERALD_FEED_SSE_HEARTBEAT_S"
    )
    # How far one client may fall behind, in events: the bytes waiting to be sent to a
    # stream (or held for it while its replay runs) are capped at this many times 8 KiB
    # (a post event's size at most); past that the client is cut off and resumes later
    # with Last-Event-ID (a replay from Postgres), so nothing is lost.
    sse_queue_max: int = Field(default=64, ge=1, validation_alias="HERALD_FEED_SSE_QUEUE_MAX")
    # A reconnect replays at most this many changes; past it the client gets `resync`.
    sse_replay_max: int = Field(default=500, ge=1, validation_alias="HERALD_FEED_SSE_REPLAY_MAX")
    # Replays (reconnects with Last-Event-ID) reading Postgres at once, per process: a
    # reconnect storm queues here instead of taking every pooled connection from live
    # delivery and the API. Keep it under HERALD_DB_POOL_MAX.
    sse_replays_concurrent: int = Field(
        default=4, ge=1, validation_alias="HERALD_FEED_SSE_REPLAYS_CONCURRENT"
    )
    # Feed processes sharing the port (`services.feed.workers`); 1: a single process, no
    # supervisor. Caps such as HERALD_FEED_SSE_MAX_CONNECTIONS stay per process.
    workers: int = Field(default=1, ge=1, le=64, validation_alias="HERALD_FEED_WORKERS")
    # Key of the HMAC that names an account in follow signals on herald.live.v1 (see
    # `shared.events.live.account_tag`). Every feed process must have the same key; a
    # change only makes signals sent across the switch miss until streams reconnect.
    live_signal_key: str = Field(
        default=DEV_LIVE_SIGNAL_KEY, validation_alias="HERALD_FEED_LIVE_SIGNAL_KEY"
    )
    # Key of the HMAC that stands for a reporter (`reports.reporter_tag`). Its own key, not
    # the live-signal one: tags are stored while a report is open, so rotating this key
    # lets an account file a second open report on a target until it is resolved, where
    # rotating the live key only drops signals in flight. Same on every feed process.
    report_key: str = Field(
        default=DEV_REPORT_KEY, repr=False, validation_alias="HERALD_FEED_REPORT_KEY"
    )
    # Reports per account: a token bucket of this many per minute, bursts of as many. A
    # person reports a few things a day; a script filing reports by the hundred is abuse.
    reports_per_minute: int = Field(
        default=10, ge=1, le=10_000, validation_alias="HERALD_FEED_REPORTS_PER_MINUTE"
    )

    @model_validator(mode="after")
    def _refuse_placeholder_signal_key(self) -> Self:
        weak = self.live_signal_key == DEV_LIVE_SIGNAL_KEY or len(self.live_signal_key) < 32
        if self.environment is Environment.PRODUCTION and weak:
            raise ValueError(
                "HERALD_FEED_LIVE_SIGNAL_KEY must be a real secret of at least 32 characters "
                "in production (the same on every feed process)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_report_key(self) -> Self:
        weak = self.report_key == DEV_REPORT_KEY or len(self.report_key) < 32
        if self.environment is Environment.PRODUCTION and weak:
            raise ValueError(
                "HERALD_FEED_REPORT_KEY must be a real secret of at least 32 characters "
                "in production (the same on every feed process)"
            )
        return self
