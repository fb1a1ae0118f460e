"""Invites to a channel (its admins): `POST`/`GET /v1/channels/{channel_id}/invites`,
`DELETE /v1/channels/{channel_id}/invites/{invite_id}`.

- create: `{expires_in_s?, max_uses?}` → 201 `{invite_id, code, expires_at, max_uses}`.
  The code (192 random bits) is in this answer only; Herald keeps its sha256. At most
  100 live (unrevoked, unexpired) invites per channel, else 409 `too-many-invites`.
- list: newest first, without codes: uses, max_uses, expires_at, revoked_at; keyset on
  `before` (an invite id).
- revoke: 204 (again: 204); an invite of another channel or none → 404.
A follower redeems a code on the feed (`PUT /v1/channels/{id}/follow {invite_code}`),
which counts its uses. Invites matter for channels whose `settings.visibility` is
`invite`; an invite to a public or unlisted channel is accepted and simply not needed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from uuid6 import uuid7

from services.publisher.api.deps import AdminAccess, Pool, not_found
from services.publisher.models import PAGE_MAX
from services.publisher.store import invites as store
from shared.http.problems import Problem
from shared.invites import EXPIRES_DEFAULT_S, EXPIRES_MAX_S, code_hash, new_code

# A use cap beyond any audience one invite could sensibly be shared with.
MAX_USES_LIMIT = 1_000_000
PAGE_DEFAULT = 20


class InviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_s: int = Field(
        default=EXPIRES_DEFAULT_S,
        ge=60,
        le=EXPIRES_MAX_S,
        description="Seconds until the invite expires: 60 s to 30 days, a week by default.",
    )
    max_uses: int | None = Field(
        default=None,
        ge=1,
        le=MAX_USES_LIMIT,
        description="How many follows it admits; unlimited when left out.",
    )


class InvitePublic(BaseModel):
    invite_id: UUID
    uses: int
    max_uses: int | None
    created_at: datetime
    expires_at: datetime
    revoked: bool
    revoked_at: datetime | None


class InviteCreated(InvitePublic):
    code: str = Field(description="Shown this once: Herald keeps only its hash.")


class InvitesPage(BaseModel):
    items: list[InvitePublic]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: UUID | None = None


def _public(row: asyncpg.Record) -> dict[str, object]:
    return {**dict(row.items()), "revoked": row["revoked_at"] is not None}


router = APIRouter(prefix="/v1/channels", tags=["invites"])


@router.post(
    "/{channel_id}/invites",
    status_code=201,
    summary="Create an invite; its code is shown this once",
)
async def create_invite(body: InviteCreate, access: AdminAccess, pool: Pool) -> InviteCreated:
    code = new_code()
    try:
        row = await store.create(
            pool,
            access.channel_id,
            uuid7(),
            code_hash(code),
            timedelta(seconds=body.expires_in_s),
            body.max_uses,
        )
    except store.TooManyInvites:
        raise Problem(
            409,
            f"a channel has at most {store.MAX_LIVE_INVITES} live invites; revoke some",
            type_="too-many-invites",
        ) from None
    return InviteCreated(**_public(row), code=code)


@router.get("/{channel_id}/invites", summary="The channel's invites, newest first, without codes")
async def list_invites(
    access: AdminAccess,
    pool: Pool,
    before: Annotated[UUID | None, Query(description="from next_before")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
) -> InvitesPage:
    rows = await store.list_page(pool, access.channel_id, before=before, limit=limit)
    next_before = rows[-1]["invite_id"] if len(rows) == limit else None
    return InvitesPage(items=[InvitePublic(**_public(r)) for r in rows], next_before=next_before)


@router.delete("/{channel_id}/invites/{invite_id}", status_code=204, summary="Revoke an invite")
async def revoke_invite(invite_id: UUID, access: AdminAccess, pool: Pool) -> Response:
    if await store.revoke(pool, access.channel_id, invite_id) is None:
        raise not_found("invite")
    return Response(status_code=204)
