"""Events on `herald.posts.v1` (key: channel_id): publisher → fan-out.

Version 2 of `post.published` and `post.edited` carries the content sealed (crypto-
shredding, `shared.content.keys`): `sealed` is base64 of AES-256-GCM, under the post
version's content key `key_id` (a row of `content_keys` in the partition of
`key_expires_on`), of the JSON of the content fields version 1 carried in the clear (the
published `body`; the edit's `text` and `caption`), bound to the post id (`body_aad`).
Ids, times, `silent` and `priority` stay in the clear. Version 1 is still accepted until
its records age out of the topic.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.content.keys import ContentKeyError, body_aad, decrypt_body, encrypt_body
from shared.events.content import CAPTION_MAX, TEXT_MAX, PostBody
from shared.events.envelope import Event, EventRegistry, Payload

# A sealed body: the largest plaintext body (text, caption, poll, media ref) is far below
# this; base64 of it plus the nonce and tag.
SEALED_MAX = 64 * 1024

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


class EditedContent(BaseModel):
    """The content fields of an edit (what `post.edited` v2 seals)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str | None = Field(default=None, max_length=TEXT_MAX)
    caption: str | None = Field(default=None, max_length=CAPTION_MAX)


class SealedPayload(Payload):
    """The fields every sealed (v2) payload shares."""

    channel_id: UUID
    post_id: UUID
    sealed: str = Field(max_length=SEALED_MAX)
    key_id: UUID
    key_expires_on: date

    def open_json(self, key: bytes) -> Any:
        """The sealed JSON; ContentKeyError (no content in its text) when it does not
        open under `key` for this post or is not JSON."""
        try:
            blob = base64.b64decode(self.sealed, validate=True)
        except (binascii.Error, ValueError):
            raise ContentKeyError("sealed content is not base64") from None
        plain = decrypt_body(key, blob, body_aad(self.post_id))
        try:
            return orjson.loads(plain)
        except orjson.JSONDecodeError:
            raise ContentKeyError("sealed content is not JSON") from None


def seal_json(key: bytes, post_id: UUID, content: BaseModel) -> str:
    """`sealed` for a v2 payload: base64(nonce || GCM(key, JSON of content, post aad))."""
    plain = orjson.dumps(content.model_dump(mode="json", exclude_none=True))
    return base64.b64encode(encrypt_body(key, plain, body_aad(post_id))).decode()


class PostPublishedV2(SealedPayload):
    """`post.published` with its `body` sealed."""

    author_id: str = Field(max_length=128)
    created_at: datetime
    silent: bool = False
    priority: Priority = "normal"

    def open(self, key: bytes) -> PostBody:
        try:
            return PostBody.model_validate(self.open_json(key))
        except ValidationError as exc:
            raise ContentKeyError(f"sealed body invalid: {exc.error_count()} errors") from None


class PostEditedV2(SealedPayload):
    """`post.edited` with its `text`/`caption` sealed."""

    edited_at: datetime

    def open(self, key: bytes) -> EditedContent:
        try:
            return EditedContent.model_validate(self.open_json(key))
        except ValidationError as exc:
            raise ContentKeyError(f"sealed edit invalid: {exc.error_count()} errors") from None


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


class PostPublishedSealed(Event):
    TYPE: ClassVar[str] = "post.published"
    VERSION: ClassVar[int] = 2
    type: Literal["post.published"] = "post.published"
    version: Literal[2] = 2
    payload: PostPublishedV2


class PostEditedSealed(Event):
    TYPE: ClassVar[str] = "post.edited"
    VERSION: ClassVar[int] = 2
    type: Literal["post.edited"] = "post.edited"
    version: Literal[2] = 2
    payload: PostEditedV2


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


POST_EVENTS = EventRegistry(
    [
        PostPublished,
        PostEdited,
        PostPublishedSealed,
        PostEditedSealed,
        PostDeleted,
        ChannelDeleted,
    ]
)
