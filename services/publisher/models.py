"""The publisher's API models: `XCreate`/`XUpdate` bodies (unknown fields → 422) and
`XPublic` answers.

Limits are DESIGN.md's: handle `[a-z0-9_]{3,32}` (accepted in any case, stored lower-case),
name 1-100, description ≤ 1000, text ≤ 4096, caption ≤ 1024, poll 2-12 options of ≤ 100
characters, at most 12 allowed reactions, retention 1-30 days. Every text field obeys
`shared.text`: post text, captions and descriptions may hold newline and tab, the rest
(name, poll question and options) is one line; control characters and surrogates are a
422, so a 202 is never followed by a post Postgres cannot store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.publisher.fields import Country, Description, Emoji, Handle, Language, Name
from shared.channels import Category
from shared.events.content import (
    CAPTION_MAX,
    MEDIA_KIND_FOR_POST,
    POLL_OPTION_MAX,
    POLL_OPTIONS_MAX,
    POLL_OPTIONS_MIN,
    POLL_QUESTION_MAX,
    TEXT_MAX,
    MediaKind,
    PostType,
)
from shared.events.posts import Priority
from shared.text import MultiLine, SingleLine

ALLOWED_REACTIONS_MAX = 12
PAGE_MAX = 100


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


Visibility = Literal["public", "unlisted", "invite"]


class ChannelSettings(_Request):
    reactions: Literal["all", "limited", "none"] = "all"
    allowed_reactions: list[Emoji] = Field(default_factory=list, max_length=ALLOWED_REACTIONS_MAX)
    forwarding: bool = True
    retention_days: int = Field(default=30, ge=1, le=30)
    visibility: Visibility = Field(
        default="public",
        description="public: in the directory and search, anyone may follow; unlisted: not "
        "listed, anyone with the id or handle may follow; invite: not listed, following "
        "needs an invite, and the channel answers 404 to anyone neither following nor admin. "
        "Left out of a PATCH's settings, it stays as it is.",
    )

    @model_validator(mode="after")
    def _limited_needs_a_set(self) -> Self:
        if len(set(self.allowed_reactions)) != len(self.allowed_reactions):
            raise ValueError("allowed_reactions has duplicates")
        if self.reactions == "limited" and not self.allowed_reactions:
            raise ValueError("reactions 'limited' needs a non-empty allowed_reactions")
        return self


class ChannelCreate(_Request):
    handle: Handle
    name: Name
    description: Description = ""
    category: Category
    country: Country
    language: Language
    # The avatar is a photo uploaded to the channel, so it can only be set by PATCH after
    # the channel exists; the field is accepted here for the contract and must be null.
    avatar_media_id: UUID | None = None
    settings: ChannelSettings = Field(default_factory=ChannelSettings)

    @model_validator(mode="after")
    def _no_avatar_yet(self) -> Self:
        if self.avatar_media_id is not None:
            raise ValueError("avatar_media_id: upload the avatar to the new channel, then PATCH it")
        return self


class ChannelUpdate(_Request):
    """Fields left out stay as they are; `settings` (owner only) replaces the settings,
    except `visibility`, which stays as it is unless given (leaving it out never opens an
    invite-only channel to the public)."""

    name: Name | None = None
    description: Description | None = None
    category: Category | None = None
    country: Country | None = None
    language: Language | None = None
    avatar_media_id: UUID | None = None
    settings: ChannelSettings | None = None


class AdminPublic(BaseModel):
    account_id: str
    role: Literal["owner", "admin"]
    added_at: datetime


class ChannelPublic(BaseModel):
    """The admin view of a channel."""

    channel_id: UUID
    handle: str
    name: str
    description: str
    category: str
    country: str
    language: str
    avatar_media_id: UUID | None
    settings: ChannelSettings
    retention_days: int
    verified: bool
    # Granted by an operator: the channel may publish posts with priority "alert".
    alerts_enabled: bool
    status: str
    created_at: datetime
    updated_at: datetime
    your_role: Literal["owner", "admin"]
    admins: list[AdminPublic]


class MediaPublic(BaseModel):
    media_id: UUID
    kind: MediaKind
    mime: str
    bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None


PollOption = Annotated[SingleLine, Field(min_length=1, max_length=POLL_OPTION_MAX)]


class PollCreate(_Request):
    question: SingleLine = Field(min_length=1, max_length=POLL_QUESTION_MAX)
    options: list[PollOption] = Field(min_length=POLL_OPTIONS_MIN, max_length=POLL_OPTIONS_MAX)
    multiple: bool = False

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.options)) != len(self.options):
            raise ValueError("poll options must be distinct")
        return self


class PostCreate(_Request):
    type: PostType
    text: MultiLine | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
    media_id: UUID | None = None
    caption: MultiLine | None = Field(default=None, max_length=CAPTION_MAX)
    poll: PollCreate | None = None
    silent: bool = Field(
        default=False, description="Push it to nobody (followers still see it in the app)."
    )
    priority: Priority = Field(
        default="normal",
        description="'alert' (channels an operator granted alerts only, a few per hour) "
        "also reaches followers who muted the channel but kept alerts on.",
    )
    publish_at: AwareDatetime | None = Field(
        default=None,
        description="Schedule the post: published at this time (1 minute to 30 days "
        "ahead, else 422) instead of now; answered 202 with status 'scheduled'. Its expiry "
        "counts from this time.",
    )

    @model_validator(mode="after")
    def _fields_match_type(self) -> Self:
        given = {name for name in ("text", "media_id", "caption", "poll") if getattr(self, name)}
        if self.type is PostType.TEXT:
            required, allowed = {"text"}, {"text"}
        elif self.type is PostType.POLL:
            required, allowed = {"poll"}, {"poll"}
        else:
            required, allowed = {"media_id"}, {"media_id", "caption"}
        if missing := required - given:
            raise ValueError(f"a {self.type} post needs {', '.join(sorted(missing))}")
        if extra := given - allowed:
            raise ValueError(f"a {self.type} post cannot have {', '.join(sorted(extra))}")
        if self.silent and self.priority == "alert":
            raise ValueError("an alert cannot be silent")
        return self

    @property
    def media_kind(self) -> MediaKind | None:
        return MEDIA_KIND_FOR_POST.get(self.type)


class PostUpdate(_Request):
    """Text posts edit `text`; media posts edit `caption`; polls cannot be edited."""

    text: MultiLine | None = Field(default=None, min_length=1, max_length=TEXT_MAX)
    caption: MultiLine | None = Field(default=None, max_length=CAPTION_MAX)

    @model_validator(mode="after")
    def _one_field(self) -> Self:
        if (self.text is None) == (self.caption is None):
            raise ValueError("give exactly one of text or caption")
        return self


class PostAccepted(BaseModel):
    post_id: UUID
    # "scheduled": a post with `publish_at`, published by the publisher at that time.
    status: Literal["accepted", "scheduled"] = "accepted"


class ScheduledPost(BaseModel):
    """A post waiting for its `publish_at` (the admin view)."""

    post_id: UUID
    publish_at: datetime
    post: PostCreate = Field(description="the publish request as it stands (edits applied)")
    created_at: datetime
    updated_at: datetime
    failed: str | None = Field(
        default=None,
        description="why it could not be published at its time (it then stays here, "
        "unpublished, until cancelled)",
    )


class ScheduledPage(BaseModel):
    items: list[ScheduledPost]


class PostStatus(BaseModel):
    post_id: UUID
    channel_id: UUID
    type: PostType
    status: Literal["scheduled", "accepted", "published", "deleted"]
    # Scheduled posts: when they will be published (`created_at` is that time too).
    publish_at: datetime | None = None
    seq: int | None = None
    created_at: datetime
    expires_at: datetime
    edited_at: datetime | None = None
    deleted_at: datetime | None = None


class PostInsights(BaseModel):
    post_id: UUID
    seq: int
    type: PostType
    created_at: datetime
    views: int
    reactions: dict[str, int]
    # Votes per option index, for polls only.
    poll: list[int] | None = None


class ChannelInsights(BaseModel):
    """Aggregates only: never an account id."""

    followers: int
    followers_change_7d: int
    posts: list[PostInsights]
    # Pass as `before` for the next (older) page; null on the last page.
    next_cursor: int | None = None
