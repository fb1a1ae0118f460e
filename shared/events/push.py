"""Events on `herald.push.v1` (key: `post_id:shard`): the push service's planner → its
senders.

A post's push audience (subscriptions of followers who will get it) is cut into `shards`
slices by a stable hash of the account id; one record names one slice by its number. The
sender selects that slice's subscriptions from Postgres when it sends, so the record
carries no account id, endpoint or text, and a follower list never enters the log.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from shared.events.envelope import Event, EventRegistry, Payload

# Upper bound on shards per post: at ~500 subscriptions a shard, two million subscriptions.
MAX_SHARDS = 4096


class PushShardV1(Payload):
    """Send `post_id` to the subscriptions in slice `shard` of `shards`.

    `priority` is the post's ("alert" also reaches followers who muted the channel but
    kept alerts on); it travels here because the sender's selection depends on it.
    """

    post_id: UUID
    channel_id: UUID
    shard: int = Field(ge=0)
    shards: int = Field(ge=1, le=MAX_SHARDS)
    priority: Literal["normal", "alert"] = "normal"

    @model_validator(mode="after")
    def _shard_in_range(self) -> Self:
        if self.shard >= self.shards:
            raise ValueError(f"shard {self.shard} out of range for {self.shards} shards")
        return self


class PushShard(Event):
    TYPE: ClassVar[str] = "push.shard"
    VERSION: ClassVar[int] = 1
    type: Literal["push.shard"] = "push.shard"
    version: Literal[1] = 1
    payload: PushShardV1


PUSH_EVENTS = EventRegistry([PushShard])
