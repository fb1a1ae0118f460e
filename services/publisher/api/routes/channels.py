"""`/v1/channels`: create (any account, who becomes owner), read and edit (admins; the
settings only by the owner), delete (owner).

While an operator has the channel suspended, the admin view shows `status` "suspended" and
`suspension` (the reason and the appeal's state), the owner may read the audit log and file
one appeal (`POST …/appeal`, 201; 409 `appeal-exists` for a second one of the same
suspension, 409 `not-suspended` for an active channel), and every change answers 409
`channel-suspended` (`api.deps`). Every admin change (edits, admins added or removed, the
deletion) is written to the channel's audit log with the acting admin's role and account.

Deleting emits `channel.deleted` on the posts topic keyed by channel id, for fan-out to
remove its content, and then marks the channel deleted (its handle becomes free); the
answer comes after the broker's acknowledgement (`Publisher.delete_channel`). No
endpoint adds followers or lists them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from uuid6 import uuid7

from services.publisher.api.deps import (
    AdminAccess,
    AdminViewAccess,
    OwnerAccess,
    OwnerViewAccess,
    Pool,
    PublisherDep,
)
from services.publisher.models import ChannelCreate, ChannelUpdate
from services.publisher.moderation import (
    AppealFiled,
    AppealRequest,
    AuditEntry,
    AuditLog,
    ChannelAdminView,
)
from services.publisher.store import audit as audit_store
from services.publisher.store import channels as store
from services.publisher.store import moderation as moderation_store
from services.publisher.store.channels import Access
from services.publisher.store.media import set_avatar
from shared.http.auth import Account
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/channels", tags=["channels"])


async def _view(pool: Pool, access: Access) -> ChannelAdminView:
    channel = await store.fetch_channel(pool, access.channel_id)
    if channel is None:
        raise Problem(404, "no such channel", type_="not-found")
    suspension = None
    if channel["status"] == "suspended":
        suspension = await moderation_store.suspension_view(pool, access.channel_id)
    return ChannelAdminView.model_validate(
        {**channel, "your_role": access.role, "suspension": suspension}
    )


@router.post("", status_code=201, summary="Create a channel; the caller becomes its owner")
async def create_channel(body: ChannelCreate, principal: Account, pool: Pool) -> ChannelAdminView:
    channel_id = uuid7()
    try:
        await store.create_channel(pool, channel_id, principal.account_id, body)
    except store.HandleTaken:
        raise Problem(409, f"the handle '{body.handle}' is taken", type_="handle-taken") from None
    return await _view(pool, Access(channel_id, principal.account_id, "owner", 0))


@router.get("/{channel_id}", summary="The admin view of a channel (also while suspended)")
async def get_channel(access: AdminViewAccess, pool: Pool) -> ChannelAdminView:
    return await _view(pool, access)


@router.patch("/{channel_id}", summary="Edit a channel (settings: owner only)")
async def update_channel(body: ChannelUpdate, access: AdminAccess, pool: Pool) -> ChannelAdminView:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    if "settings" in changes and not access.is_owner:
        raise Problem(403, "only the channel's owner may change its settings", type_="owner-only")
    for required in ("name", "description", "category", "country", "language", "settings"):
        if required in changes and changes[required] is None:
            raise Problem(422, f"{required} cannot be null", type_="validation")
    avatar_given = "avatar_media_id" in changes
    avatar = changes.pop("avatar_media_id", None)
    async with pool.acquire() as conn, conn.transaction():
        if avatar_given and not await set_avatar(conn, access.channel_id, avatar):
            raise Problem(
                422,
                "avatar_media_id does not name a photo uploaded to this channel",
                type_="validation",
            )
        await store.update_channel(conn, access.channel_id, changes)
        fields = sorted(changes) + (["avatar_media_id"] if avatar_given else [])
        if fields:
            await audit_store.record_admin(conn, access, "channel.edited", {"fields": fields})
    return await _view(pool, access)


@router.delete("/{channel_id}", status_code=204, summary="Delete a channel and all its content")
async def delete_channel(access: OwnerAccess, publisher: PublisherDep) -> Response:
    await publisher.delete_channel(access)
    await audit_store.record_admin(publisher.pool, access, "channel.deleted")
    return Response(status_code=204)


@router.put(
    "/{channel_id}/admins/{account_id}",
    summary="Make an account an admin (owner only; at most 16 besides the owner)",
)
async def put_admin(
    account_id: str, access: OwnerAccess, pool: Pool, response: Response
) -> ChannelAdminView:
    if not 1 <= len(account_id) <= 128:
        raise Problem(422, "account_id must be 1-128 characters", type_="validation")
    if account_id == access.account_id:
        raise Problem(409, "the owner is already the owner", type_="is-owner")
    try:
        added = await store.put_admin(pool, access.channel_id, account_id)
    except store.TooManyAdmins:
        raise Problem(
            409, f"a channel has at most {store.MAX_ADMINS} admins", type_="too-many-admins"
        ) from None
    response.status_code = 201 if added else 200
    if added:
        await audit_store.record_admin(pool, access, "admin.added", {"account_id": account_id})
    return await _view(pool, access)


@router.delete(
    "/{channel_id}/admins/{account_id}", status_code=204, summary="Remove an admin (owner only)"
)
async def remove_admin(account_id: str, access: OwnerAccess, pool: Pool) -> Response:
    if account_id == access.account_id:
        raise Problem(409, "the owner cannot remove themselves", type_="is-owner")
    if not await store.remove_admin(pool, access.channel_id, account_id):
        raise Problem(404, "no such admin", type_="not-found")
    await audit_store.record_admin(pool, access, "admin.removed", {"account_id": account_id})
    return Response(status_code=204)


@router.post(
    "/{channel_id}/appeal",
    status_code=201,
    summary="Appeal the channel's suspension (owner only; one appeal per suspension)",
)
async def file_appeal(body: AppealRequest, access: OwnerViewAccess, pool: Pool) -> AppealFiled:
    try:
        appeal_id = await moderation_store.file_appeal(pool, access.channel_id, body.text)
    except moderation_store.NotSuspended:
        raise Problem(409, "the channel is not suspended", type_="not-suspended") from None
    except moderation_store.AppealExists:
        raise Problem(
            409, "this suspension has been appealed already", type_="appeal-exists"
        ) from None
    return AppealFiled(appeal_id=appeal_id)


@router.get("/{channel_id}/audit", summary="The channel's audit log, newest first (owner only)")
async def channel_audit(
    access: OwnerViewAccess,
    pool: Pool,
    before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=audit_store.PAGE_MAX)] = 100,
) -> AuditLog:
    rows = await audit_store.entries(pool, access.channel_id, before, limit)
    return AuditLog(entries=[AuditEntry.model_validate(row) for row in rows])
