"""Push settings: the shared `HERALD_` ones (the VAPID key file, insecure endpoints, the
contact, in `HeraldSettings`, read by the feed too) plus `HERALD_PUSH_…` for this service."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Environment, HeraldSettings


class PushSettings(HeraldSettings):
    ops_host: str = Field(default="127.0.0.1", validation_alias="HERALD_PUSH_OPS_HOST")
    ops_port: int = Field(default=8085, validation_alias="HERALD_PUSH_OPS_PORT")
    # Subscriptions a shard aims at. A crash resends at most the shard in hand, so this
    # bounds duplicates; hashing spreads accounts unevenly, so shards vary around it.
    shard_target: int = Field(
        default=500, ge=1, le=5000, validation_alias="HERALD_PUSH_SHARD_TARGET"
    )
    # Subscriptions selected per query of a shard (keyset pages).
    page_size: int = Field(default=1000, ge=1, le=10_000, validation_alias="HERALD_PUSH_PAGE_SIZE")
    # Pushes in flight at once in this process (the sender also limits each host).
    send_concurrency: int = Field(
        default=256, ge=1, le=10_000, validation_alias="HERALD_PUSH_SEND_CONCURRENCY"
    )
    # Pushes in flight to one push service (scheme + host + port): one slow host never
    # takes more than this of the process's concurrency.
    per_host_concurrency: int = Field(
        default=64, ge=1, le=1000, validation_alias="HERALD_PUSH_PER_HOST_CONCURRENCY"
    )
    # Shards one process sends at once (each a page of subscriptions in memory): while
    # one waits for its page or its last slow pushes, the others keep the CPU busy. The
    # pushes of all of them together stay within send_concurrency.
    shards_in_flight: int = Field(
        default=4, ge=1, le=64, validation_alias="HERALD_PUSH_SHARDS_IN_FLIGHT"
    )
    # Live events the planner takes per poll; each is committed once its shards are acked.
    planner_batch: int = Field(
        default=100, ge=1, le=1000, validation_alias="HERALD_PUSH_PLANNER_BATCH"
    )

    def creates_vapid_key(self) -> bool:
        """Outside production a missing key file is created once (and then kept)."""
        return self.environment is not Environment.PRODUCTION
