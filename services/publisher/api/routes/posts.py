"""`/v1/channels/{id}/posts`: publish (202 after the broker's ack) or schedule (`publish_at`,
202 at once), read a post's status, edit its text/caption and delete it (both within its
retention window, 202) — admins; `/v1/channels/{id}/scheduled` lists scheduled posts.

Status: `scheduled` (waiting for its `publish_at`), `accepted` (acknowledged, not yet
persisted by fan-out), `published` (with its `seq`) or `deleted`; unknown or expired posts
are 404.

While a post is scheduled, `PATCH` edits the stored request and `DELETE` cancels it: the row
is removed and nothing of it remains (no event was ever produced, no content key made).
An edit or cancel that meets the scheduler publishing the post waits for it and then acts
on the published post (an edit of it, a delete for everyone). A scheduled post's media is
claimed when it is scheduled, until the post's would-be expiry, so retention cannot collect
it before its time; a cancel leaves that claim (the upload is the admin's, not the post).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from services.publisher.api.deps import (
    AdminAccess,
    AdminViewAccess,
    IdempotencyKey,
    Pool,
    PublisherDep,
    Settings,
)
from services.publisher.models import (
    PAGE_MAX,
    PostAccepted,
    PostCreate,
    PostStatus,
    PostUpdate,
    ScheduledPage,
    ScheduledPost,
)
from services.publisher.publishing import edited_field, request_hash, uuid7_time
from services.publisher.scheduler import SCHEDULE_MAX_AHEAD, uuid7_at
from services.publisher.store import audit as audit_store
from services.publisher.store import media as media_store
from services.publisher.store import pins as pin_store
from services.publisher.store import posts as store
from services.publisher.store import scheduled as scheduled_store
from services.publisher.store.channels import Access
from shared.events.content import PostType
from shared.http.auth import Account
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/channels", tags=["posts"])

# Route template of publishing, for counting its validation failures (app.py).
PUBLISH_ROUTE = "/v1/channels/{channel_id}/posts"


@router.post("/{channel_id}/posts", status_code=202, summary="Publish or schedule a post")
async def publish_post(
    body: PostCreate,
    access: AdminAccess,
    principal: Account,
    key: IdempotencyKey,
    publisher: PublisherDep,
    pool: Pool,
    settings: Settings,
) -> PostAccepted:
    if body.publish_at is not None:
        post_id = await _schedule(pool, settings, access, body, principal.account_id, key)
        return PostAccepted(post_id=post_id, status="scheduled")
    post_id = await publisher.publish(access, body, principal.account_id, key)
    return PostAccepted(post_id=post_id)


async def _schedule(
    pool: Pool,
    settings: Settings,
    access: Access,
    body: PostCreate,
    author_id: str,
    key: str | None,
) -> UUID:
    """Check what can be checked now (time window, alert grant, media), then store it."""
    assert body.publish_at is not None
    ahead = body.publish_at - datetime.now(UTC)
    if ahead < timedelta(seconds=settings.schedule_min_ahead_s) or ahead > SCHEDULE_MAX_AHEAD:
        raise Problem(
            422,
            f"publish_at must be {settings.schedule_min_ahead_s:g} s to 30 days ahead",
            type_="validation",
        )
    if body.priority == "alert" and not access.alerts_enabled:
        raise Problem(
            403,
            "this channel may not post alerts: an operator has to grant them",
            type_="alerts-not-enabled",
        )
    post_id = uuid7_at(body.publish_at)
    if (kind := body.media_kind) is not None:
        assert body.media_id is not None
        expires_at = uuid7_time(post_id) + timedelta(days=access.retention_days)
        claimed = await media_store.claim_for_post(
            pool, access.channel_id, body.media_id, kind, expires_at
        )
        if claimed is None:
            raise Problem(
                422, f"media_id does not name a {kind} uploaded to this channel", type_="validation"
            )
    try:
        return await scheduled_store.schedule(
            pool,
            channel_id=access.channel_id,
            post_id=post_id,
            author_id=author_id,
            publish_at=uuid7_time(post_id),
            request=body.model_dump(mode="json", exclude={"publish_at"}),
            key=None if key is None else (key, request_hash(body)),
        )
    except scheduled_store.KeyReused:
        raise Problem(
            422,
            "this Idempotency-Key was already used with a different request",
            type_="idempotency-key-reused",
        ) from None


@router.get("/{channel_id}/scheduled", summary="Scheduled posts, soonest first")
async def scheduled_posts(
    access: AdminViewAccess,
    pool: Pool,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_MAX,
) -> ScheduledPage:
    rows = await scheduled_store.listed(pool, access.channel_id, limit)
    return ScheduledPage(items=[_scheduled(row) for row in rows])


def _scheduled(row: dict[str, Any]) -> ScheduledPost:
    return ScheduledPost(
        post_id=row["post_id"],
        publish_at=row["publish_at"],
        post=PostCreate.model_validate(row["request"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        failed=row["failed"],
    )


@router.get("/{channel_id}/posts/{post_id}", summary="A post's status")
async def post_status(post_id: UUID, access: AdminViewAccess, pool: Pool) -> PostStatus:
    waiting = await scheduled_store.get(pool, access.channel_id, post_id)
    if waiting is not None:
        return PostStatus(
            post_id=post_id,
            channel_id=access.channel_id,
            type=waiting["request"]["type"],
            status="scheduled",
            publish_at=waiting["publish_at"],
            created_at=waiting["publish_at"],
            expires_at=waiting["publish_at"] + timedelta(days=access.retention_days),
        )
    post = await store.accepted_post(pool, access.channel_id, post_id)
    if post is None:
        raise Problem(404, "no such post in this channel", type_="not-found")
    persisted = await store.persisted_post(pool, access.channel_id, post_id, uuid7_time(post_id))
    deleted = post["status"] == "deleted" or (persisted or {}).get("status") == "deleted"
    status = "deleted" if deleted else "published" if persisted else "accepted"
    return PostStatus(
        post_id=post_id,
        channel_id=access.channel_id,
        type=post["type"],
        status=status,
        seq=persisted["seq"] if persisted else None,
        created_at=post["created_at"],
        expires_at=post["expires_at"],
        edited_at=post["edited_at"],
        deleted_at=post["deleted_at"] or (persisted or {}).get("deleted_at"),
    )


@router.patch("/{channel_id}/posts/{post_id}", status_code=202, summary="Edit text or caption")
async def edit_post(
    post_id: UUID, body: PostUpdate, access: AdminAccess, publisher: PublisherDep, pool: Pool
) -> dict[str, str]:
    waiting = await scheduled_store.get(pool, access.channel_id, post_id)
    if waiting is not None:
        wanted, value = edited_field(PostType(waiting["request"]["type"]), body)
        if await scheduled_store.edit(pool, access.channel_id, post_id, wanted, value):
            return {"post_id": str(post_id), "status": "scheduled"}
        # Published meanwhile (the edit waited for the scheduler): edit the post.
    await publisher.edit(access, post_id, body)
    return {"post_id": str(post_id), "status": "accepted"}


@router.delete(
    "/{channel_id}/posts/{post_id}",
    status_code=202,
    summary="Delete for everyone, or cancel while scheduled",
)
async def delete_post(
    post_id: UUID, access: AdminAccess, publisher: PublisherDep, pool: Pool
) -> dict[str, str]:
    if await scheduled_store.cancel(pool, access.channel_id, post_id):
        return {"post_id": str(post_id), "status": "cancelled"}
    await publisher.delete(access, post_id)
    # A deleted post is no longer pinned (readers also skip pins of deleted posts).
    await pin_store.unpin(pool, access.channel_id, post_id)
    await audit_store.record_admin(pool, access, "post.deleted", {"post_id": str(post_id)})
    return {"post_id": str(post_id), "status": "accepted"}
