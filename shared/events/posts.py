"""Events on `herald.posts.v1` (key: channel_id): publisher → fan-out."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from shared.events.content import CAPTION_MAX, TEXT_MAX, PostBody
from shared.events.envelope import Event, EventRegistry, Payload

# How loudly a post reaches followers by push: "alert" (channels an operator granted
# alerts only) also reaches followers who muted the channel but kept alerts on.
Priority = Literal["normal", "alert"]


class PostPublishedV1(Payload):
    channel_id: UUID
    post_id: UUID
    # Which admin wrote it: stored for that channel's admins only, never shown to followers.
    author_id: str = Field(max_length=128)
    body: PostBody
    created_at: datetime
    # Added later (additive; records without them read as a normal, pushed post): `silent`
    # posts are pushed to nobody; never both silent and an alert (the publisher refuses it).
    silent: bool = False
    priority: Priority = "normal"


class PostEditedV1(Payload):
    channel_id: UUID
    post_id: UUID
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    caption: str | None = Field(default=None, max_length=CAPTION_MAX)
    edited_at: datetime


class PostDeletedV1(Payload):
    channel_id: UUID
    post_id: UUID
    deleted_at: datetime


class ChannelDeletedV1(Payload):
    channel_id: UUID
    deleted_at: datetime


class PostPublished(Event):
    TYPE: ClassVar[str] = "post.published"
    VERSION: ClassVar[int] = 1
    type: Literal["post.published"] = "post.published"
    version: Literal[1] = 1
    payload: PostPublishedV1


class PostEdited(Event):
    TYPE: ClassVar[str] = "post.edited"
    VERSION: ClassVar[int] = 1
    type: Literal["post.edited"] = "post.edited"
    version: Literal[1] = 1
    payload: PostEditedV1


class PostDeleted(Event):
    TYPE: ClassVar[str] = "post.deleted"
    VERSION: ClassVar[int] = 1
    type: Literal["post.deleted"] = "post.deleted"
    version: Literal[1] = 1
    payload: PostDeletedV1


class ChannelDeleted(Event):
    TYPE: ClassVar[str] = "channel.deleted"
    VERSION: ClassVar[int] = 1
    type: Literal["channel.deleted"] = "channel.deleted"
    version: Literal[1] = 1
    payload: ChannelDeletedV1


POST_EVENTS = EventRegistry([PostPublished, PostEdited, PostDeleted, ChannelDeleted])
