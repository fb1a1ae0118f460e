"""Request and response bodies of moderation: suspension, appeals and the audit log
(`api.routes.operator` and the owner's routes in `api.routes.channels`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.publisher.models import ChannelPublic
from shared.text import MultiLine

REASON_MAX = 1000
APPEAL_TEXT_MAX = 2000


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuspensionRequest(_Request):
    reason: MultiLine = Field(
        min_length=1,
        max_length=REASON_MAX,
        description="Shown to the channel's admins and recorded in the audit log.",
    )


class AppealRequest(_Request):
    text: MultiLine = Field(min_length=1, max_length=APPEAL_TEXT_MAX)


class AppealDecision(_Request):
    decision: Literal["restore", "uphold"]


class AppealState(BaseModel):
    appeal_id: UUID
    status: Literal["open", "restored", "upheld"]
    created_at: datetime
    decided_at: datetime | None = None


class SuspensionPublic(BaseModel):
    """Why an operator suspended the channel, and its appeal (None until filed)."""

    reason: str
    suspended_at: datetime
    appeal: AppealState | None = None


class ChannelAdminView(ChannelPublic):
    """The admin view of a channel; `suspension` is set while it is suspended."""

    suspension: SuspensionPublic | None = None


class AppealFiled(BaseModel):
    appeal_id: UUID
    status: Literal["open"] = "open"


class AppealPublic(BaseModel):
    """An open appeal as operators see it, with the suspension it is against."""

    appeal_id: UUID
    channel_id: UUID
    text: str
    status: Literal["open", "restored", "upheld"]
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None
    suspended_at: datetime | None


class AppealList(BaseModel):
    appeals: list[AppealPublic]


class AuditEntry(BaseModel):
    """One audit entry. `actor_role`: operator, owner or admin; `actor_id` only for a
    change by one of the channel's own admins (never an operator, follower or reporter)."""

    audit_id: UUID
    channel_id: UUID
    at: datetime
    actor_role: Literal["operator", "owner", "admin"]
    actor_id: str | None = None
    action: str
    details: dict[str, Any]


class AuditLog(BaseModel):
    entries: list[AuditEntry]
