"""The public body of a post: what followers see, in events and in API responses.

The body is one JSON object with a `type` discriminator, so an encrypted channel can later
carry a ciphertext envelope in its place without a new table layout.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

TEXT_MAX = 4096
CAPTION_MAX = 1024
POLL_QUESTION_MAX = 256
POLL_OPTION_MAX = 100
POLL_OPTIONS_MIN = 2
POLL_OPTIONS_MAX = 12


class PostType(StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    VIDEO = "video"
    STICKER = "sticker"
    VOICE = "voice"
    POLL = "poll"


class MediaKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    STICKER = "sticker"
    VOICE = "voice"


# Which media kind each post type needs; text and poll posts carry none.
MEDIA_KIND_FOR_POST: dict[PostType, MediaKind] = {
    PostType.PHOTO: MediaKind.PHOTO,
    PostType.VIDEO: MediaKind.VIDEO,
    PostType.STICKER: MediaKind.STICKER,
    PostType.VOICE: MediaKind.VOICE,
}


class MediaRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    media_id: UUID
    kind: MediaKind
    mime: str
    bytes: int
    width: int | None = None
    height: int | None = None


class Poll(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    question: str = Field(min_length=1, max_length=POLL_QUESTION_MAX)
    options: list[str] = Field(min_length=POLL_OPTIONS_MIN, max_length=POLL_OPTIONS_MAX)
    multiple: bool = False


class PostBody(BaseModel):
    """The content of a post as followers see it (never the authoring admin)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: PostType
    text: str | None = Field(default=None, max_length=TEXT_MAX)
    media: MediaRef | None = None
    caption: str | None = Field(default=None, max_length=CAPTION_MAX)
    poll: Poll | None = None
