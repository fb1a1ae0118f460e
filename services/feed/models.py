"""The feed API's models: request bodies (`extra="forbid"`: unknown fields are a 422) and
the public shapes it answers with. Every text field obeys `shared.text` (no control
characters or surrogates; a report's note may hold newline and tab).

No public model has a field for an account id other than through the caller's own state
(`my_reaction`, `my_vote`, follow settings): followers never see each other, and posts
never carry their authoring admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.text import MultiLine, SingleLine

# Page sizes: DESIGN.md caps every list at 100.
PAGE_MAX = 100
PAGE_DEFAULT = 20
VIEWS_MAX = 100


class DirectorySort(StrEnum):
    RELEVANCE = "relevance"
    POPULAR = "popular"
    NEW = "new"
    ACTIVE = "active"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ requests


class FollowUpdate(Request):
    muted: bool | None = None
    alerts: bool | None = None


class ReadMarker(Request):
    seq: int = Field(ge=0, le=2**62)


class ReactionSet(Request):
    # Bounded in code points before the emoji check (a set lookup) runs.
    emoji: SingleLine = Field(min_length=1, max_length=16)


# A poll has at most 12 options; an index past them is a 422 before any lookup.
PollOptionIndex = Annotated[int, Field(ge=0, le=11)]


class VoteSet(Request):
    options: list[PollOptionIndex] = Field(min_length=1, max_length=12)


class ViewsReport(Request):
    post_ids: list[UUID] = Field(min_length=1, max_length=VIEWS_MAX)


# ------------------------------------------------------------------ responses


class ChannelSummary(BaseModel):
    channel_id: UUID
    handle: str
    name: str
    avatar_media_id: UUID | None
    verified: bool

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> ChannelSummary:
        """The summary from any query row that selects the channel's summary columns."""
        return cls(**{name: row[name] for name in cls.model_fields})


class PinnedPost(BaseModel):
    post_id: UUID
    seq: int


class ChannelPublic(ChannelSummary):
    description: str
    category: str
    country: str
    language: str
    followers: int
    created_at: datetime
    reactions: str = Field(description="all, limited or none")
    allowed_reactions: list[str]
    pinned: list[PinnedPost] = Field(
        default_factory=list,
        description="the channel's pinned posts (at most 3), newest pin first; only on the "
        "card (empty in directory entries)",
    )


class DirectoryEntry(ChannelPublic):
    posts_7d: int


class DirectoryPage(BaseModel):
    items: list[DirectoryEntry]
    next_cursor: str | None


class Counters(BaseModel):
    reactions: dict[str, int] = Field(description="emoji → count")
    votes: dict[str, int] = Field(description="option index → count")
    views: int = Field(description="unique views (HyperLogLog estimate)")


class PostPublic(BaseModel):
    channel_id: UUID
    post_id: UUID
    seq: int
    body: dict[str, Any] = Field(description="PostBody: type, text, media, caption, poll")
    created_at: datetime
    edited_at: datetime | None
    expires_at: datetime
    counters: Counters
    my_reaction: str | None = Field(description="the caller's reaction; null when anonymous")
    my_vote: list[int] | None = Field(description="the caller's poll options; null if none")


class PostsPage(BaseModel):
    items: list[PostPublic]
    next_before: int | None = Field(description="pass as `before` for older posts")


class TimelineItem(PostPublic):
    channel: ChannelSummary


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None


class FollowPublic(BaseModel):
    channel_id: UUID
    following: bool
    muted: bool
    alerts: bool
    last_read_seq: int
    followed_at: datetime


class FollowEntry(FollowPublic):
    channel: ChannelSummary


class FollowsPage(BaseModel):
    items: list[FollowEntry]
    next_cursor: str | None


class PostPreview(BaseModel):
    post_id: UUID
    seq: int
    type: str
    preview: str | None = Field(description="the start of the text or caption")
    created_at: datetime


class UpdateEntry(BaseModel):
    channel_id: UUID
    channel: ChannelSummary
    unread_count: int = Field(description=f"unread visible posts, counted up to {1000}")
    last_read_seq: int
    last_seq: int
    last_post_at: datetime | None
    muted: bool
    last_post: PostPreview | None


class UpdatesPage(BaseModel):
    items: list[UpdateEntry]
    next_cursor: str | None


class ReactionState(BaseModel):
    post_id: UUID
    my_reaction: str | None


class VoteState(BaseModel):
    post_id: UUID
    my_vote: list[int] | None


class ViewsAccepted(BaseModel):
    accepted: int = Field(description="how many of the posts were visible and counted")


class StreamTicket(BaseModel):
    """A single-use credential for `GET /v1/stream?ticket=…` (browsers' EventSource)."""

    ticket: str = Field(description="≥ 128 random bits, usable once; never log it")
    expires_in: int = Field(description="seconds until it can no longer be redeemed")


# ------------------------------------------------------------------ push
# Web Push: `PUT /v1/me/push-subscriptions` takes a browser's `PushSubscription.toJSON()`
# as is. Key material is checked in `api/routes/push.py` (valid P-256 point, 16-byte auth).

# `[A-Za-z0-9_-]` base64url, padding optional (browsers send none). A 65-byte point is 87
# characters, a 16-byte secret 22; the bounds leave room for padding only.
_B64URL = r"^[A-Za-z0-9_-]+={0,2}$"


class PushKeys(Request):
    p256dh: str = Field(
        min_length=1, max_length=90, pattern=_B64URL, description="base64url, 65-byte P-256 point"
    )
    auth: str = Field(
        min_length=1, max_length=24, pattern=_B64URL, description="base64url, 16-byte secret"
    )


class PushSubscriptionCreate(Request):
    """A browser's `PushSubscription.toJSON()`."""

    endpoint: SingleLine = Field(description="the push service's URL: https, public address")
    keys: PushKeys
    # A DOMHighResTimeStamp (ms since the epoch, maybe fractional); bounded to year 9999.
    expiration_time: float | None = Field(
        default=None,
        alias="expirationTime",
        ge=0,
        le=253_402_300_799_000,
        description="when the browser will drop the subscription: ms since the epoch, or null",
    )


class PushSubscriptionCreated(BaseModel):
    subscription_id: UUID


class PushSubscriptionPublic(BaseModel):
    """One of the caller's subscriptions: only the endpoint's origin is ever shown (the
    full URL is a capability to push to that browser)."""

    subscription_id: UUID
    origin: str = Field(description="scheme://host[:port] of the push service")
    created_at: datetime


class PushKey(BaseModel):
    public_key: str = Field(
        description="VAPID application server key: base64url (no padding) of the 65-byte "
        "uncompressed P-256 public point, for PushManager.subscribe's applicationServerKey"
    )


# ------------------------------------------------------------------ reports


class ReportReason(StrEnum):
    SPAM = "spam"
    SCAM = "scam"
    IMPERSONATION = "impersonation"
    VIOLENCE = "violence"
    HATE = "hate"
    SEXUAL = "sexual"
    MISINFORMATION = "misinformation"
    OTHER = "other"


REPORT_NOTE_MAX = 1000


class ReportCreate(Request):
    channel_id: UUID
    post_id: UUID | None = Field(
        default=None, description="the reported post; absent: the channel itself"
    )
    reason: ReportReason
    # Postgres text cannot hold NUL: shared.text's rule refuses it here (422), never at
    # the insert.
    note: MultiLine | None = Field(
        default=None, max_length=REPORT_NOTE_MAX, description="what operators should know"
    )


class ReportAccepted(BaseModel):
    report_id: UUID
