"""Events on `herald.live.v1` (key: channel_id): fan-out, retention and the feed → every
feed instance.

These carry only what any reader of the channel may see: never an account id. The feed's
follow signal names its account only as `account_tag` (an HMAC under a key the feed
processes share), so a reader of the topic cannot tell who followed.

Version 2 of `live.post_visible` and `live.post_edited` carries no content (ids, `seq`,
times, `silent`, `priority`): the topic's log cannot be crypto-shredded per post, so it
holds no bodies; readers take the post from Postgres. Fan-out emits version 2; readers
accept version 1 until its records age out.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.content import CAPTION_MAX, TEXT_MAX, PostBody
from shared.events.envelope import Event, EventRegistry, Payload
from shared.events.posts import Priority


class PostVisibleV1(Payload):
    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1)
    body: PostBody
    created_at: datetime
    expires_at: datetime
    # Copied by fan-out from the post's `post.published` event, for push (additive;
    # records without them read as a normal, pushed post).
    silent: bool = False
    priority: Priority = "normal"


class PostEditedLiveV1(Payload):
    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1)
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    caption: str | None = Field(default=None, max_length=CAPTION_MAX)
    edited_at: datetime


class PostVisibleV2(Payload):
    """A post became visible: no body (read it from Postgres)."""

    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1)
    created_at: datetime
    expires_at: datetime
    silent: bool = False
    priority: Priority = "normal"


class PostEditedLiveV2(Payload):
    """A post was edited: no text or caption (read them from Postgres)."""

    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1)
    edited_at: datetime


class PostDeletedLiveV1(Payload):
    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1)


class CountersChangedV1(Payload):
    """Aggregates only: reactions per emoji, votes per option index, unique views."""

    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1)
    reactions: dict[str, int] = Field(default_factory=dict)
    votes: dict[str, int] = Field(default_factory=dict)
    views: int = 0


class HistoryTrimmedV1(Payload):
    """Every post of the channel with `seq <= up_to_seq` has expired."""

    channel_id: UUID
    up_to_seq: int = Field(ge=0)


class FollowSignalV1(Payload):
    """An account (un)followed the channel: feed processes holding its open streams
    update them. `account_tag` is `account_tag(key, account_id)`, never the id itself."""

    channel_id: UUID
    account_tag: str = Field(pattern=r"^[0-9a-f]{64}$")
    following: bool


class ChannelStatusV1(Payload):
    """An operator suspended or restored the channel (sent by the publisher after the
    change is committed): feed processes end their local streams' subscriptions to a
    suspended channel. A restored channel comes back to a stream when it reconnects."""

    channel_id: UUID
    status: Literal["active", "suspended"]


def account_tag(key: str, account_id: str) -> str:
    """HMAC-SHA256 of the account id under the shared live-signal key, as 64 hex digits.

    Stable per account, so a process can match it against its local streams with one dict
    lookup; without the key it cannot be reversed or recomputed from a guessed id.
    """
    return hmac.new(key.encode(), account_id.encode(), hashlib.sha256).hexdigest()


class LivePostVisible(Event):
    TYPE: ClassVar[str] = "live.post_visible"
    VERSION: ClassVar[int] = 1
    type: Literal["live.post_visible"] = "live.post_visible"
    version: Literal[1] = 1
    payload: PostVisibleV1


class LivePostEdited(Event):
    TYPE: ClassVar[str] = "live.post_edited"
    VERSION: ClassVar[int] = 1
    type: Literal["live.post_edited"] = "live.post_edited"
    version: Literal[1] = 1
    payload: PostEditedLiveV1


class LivePostVisibleV2(Event):
    TYPE: ClassVar[str] = "live.post_visible"
    VERSION: ClassVar[int] = 2
    type: Literal["live.post_visible"] = "live.post_visible"
    version: Literal[2] = 2
    payload: PostVisibleV2


class LivePostEditedV2(Event):
    TYPE: ClassVar[str] = "live.post_edited"
    VERSION: ClassVar[int] = 2
    type: Literal["live.post_edited"] = "live.post_edited"
    version: Literal[2] = 2
    payload: PostEditedLiveV2


# Every version of the two post events, for readers' type checks.
POST_VISIBLE_EVENTS = (LivePostVisible, LivePostVisibleV2)
POST_EDITED_EVENTS = (LivePostEdited, LivePostEditedV2)


class LivePostDeleted(Event):
    TYPE: ClassVar[str] = "live.post_deleted"
    VERSION: ClassVar[int] = 1
    type: Literal["live.post_deleted"] = "live.post_deleted"
    version: Literal[1] = 1
    payload: PostDeletedLiveV1


class LiveCountersChanged(Event):
    TYPE: ClassVar[str] = "live.counters_changed"
    VERSION: ClassVar[int] = 1
    type: Literal["live.counters_changed"] = "live.counters_changed"
    version: Literal[1] = 1
    payload: CountersChangedV1


class LiveHistoryTrimmed(Event):
    TYPE: ClassVar[str] = "live.history_trimmed"
    VERSION: ClassVar[int] = 1
    type: Literal["live.history_trimmed"] = "live.history_trimmed"
    version: Literal[1] = 1
    payload: HistoryTrimmedV1


class LiveFollowChanged(Event):
    TYPE: ClassVar[str] = "live.follow_changed"
    VERSION: ClassVar[int] = 1
    type: Literal["live.follow_changed"] = "live.follow_changed"
    version: Literal[1] = 1
    payload: FollowSignalV1


class LiveChannelStatus(Event):
    TYPE: ClassVar[str] = "live.channel_status"
    VERSION: ClassVar[int] = 1
    type: Literal["live.channel_status"] = "live.channel_status"
    version: Literal[1] = 1
    payload: ChannelStatusV1


LIVE_EVENTS = EventRegistry(
    [
        LivePostVisible,
        LivePostEdited,
        LivePostVisibleV2,
        LivePostEditedV2,
        LivePostDeleted,
        LiveCountersChanged,
        LiveHistoryTrimmed,
        LiveFollowChanged,
        LiveChannelStatus,
    ]
)
