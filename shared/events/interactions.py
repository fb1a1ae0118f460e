"""Events on `herald.interactions.v1` (key: post_id, or channel_id for follows): feed → fan-out.

Each says only "(subject, account) changed": the current state lives in the feed service's
per-account rows, which makes every event idempotent for the counters that fan-out keeps.
"""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.envelope import Event, EventRegistry, Payload

ACCOUNT_ID_MAX = 128


class ReactionChangedV1(Payload):
    channel_id: UUID
    post_id: UUID
    account_id: str = Field(min_length=1, max_length=ACCOUNT_ID_MAX)


class VoteChangedV1(Payload):
    channel_id: UUID
    post_id: UUID
    account_id: str = Field(min_length=1, max_length=ACCOUNT_ID_MAX)


class PostViewedV1(Payload):
    """One account saw one post; counted once per account by a HyperLogLog sketch."""

    channel_id: UUID
    post_id: UUID
    account_id: str = Field(min_length=1, max_length=ACCOUNT_ID_MAX)


class FollowChangedV1(Payload):
    channel_id: UUID
    account_id: str = Field(min_length=1, max_length=ACCOUNT_ID_MAX)


class ReactionChanged(Event):
    TYPE: ClassVar[str] = "reaction.changed"
    VERSION: ClassVar[int] = 1
    type: Literal["reaction.changed"] = "reaction.changed"
    version: Literal[1] = 1
    payload: ReactionChangedV1


class VoteChanged(Event):
    TYPE: ClassVar[str] = "vote.changed"
    VERSION: ClassVar[int] = 1
    type: Literal["vote.changed"] = "vote.changed"
    version: Literal[1] = 1
    payload: VoteChangedV1


class PostViewed(Event):
    TYPE: ClassVar[str] = "post.viewed"
    VERSION: ClassVar[int] = 1
    type: Literal["post.viewed"] = "post.viewed"
    version: Literal[1] = 1
    payload: PostViewedV1


class FollowChanged(Event):
    TYPE: ClassVar[str] = "follow.changed"
    VERSION: ClassVar[int] = 1
    type: Literal["follow.changed"] = "follow.changed"
    version: Literal[1] = 1
    payload: FollowChangedV1


INTERACTION_EVENTS = EventRegistry([ReactionChanged, VoteChanged, PostViewed, FollowChanged])
