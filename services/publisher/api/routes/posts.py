"""`/v1/channels/{id}/posts`: publish (202 after the broker's ack), read a post's status,
edit its text/caption and delete it (both within its retention window, 202) — admins.

Status: `accepted` (acknowledged, not yet persisted by fan-out), `published` (with its
`seq`) or `deleted`; unknown or expired posts are 404.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from services.publisher.api.deps import AdminAccess, IdempotencyKey, Pool, PublisherDep
from services.publisher.models import PostAccepted, PostCreate, PostStatus, PostUpdate
from services.publisher.publishing import uuid7_time
from services.publisher.store import posts as store
from shared.http.auth import Account
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/channels", tags=["posts"])

# Route template of publishing, for counting its validation failures (app.py).
PUBLISH_ROUTE = "/v1/channels/{channel_id}/posts"


@router.post("/{channel_id}/posts", status_code=202, summary="Publish a post")
async def publish_post(
    body: PostCreate,
    access: AdminAccess,
    principal: Account,
    key: IdempotencyKey,
    publisher: PublisherDep,
) -> PostAccepted:
    post_id = await publisher.publish(access, body, principal.account_id, key)
    return PostAccepted(post_id=post_id)


@router.get("/{channel_id}/posts/{post_id}", summary="A post's status")
async def post_status(post_id: UUID, access: AdminAccess, pool: Pool) -> PostStatus:
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
    post_id: UUID, body: PostUpdate, access: AdminAccess, publisher: PublisherDep
) -> dict[str, str]:
    await publisher.edit(access, post_id, body)
    return {"post_id": str(post_id), "status": "accepted"}


@router.delete("/{channel_id}/posts/{post_id}", status_code=202, summary="Delete for everyone")
async def delete_post(
    post_id: UUID, access: AdminAccess, publisher: PublisherDep
) -> dict[str, str]:
    await publisher.delete(access, post_id)
    return {"post_id": str(post_id), "status": "accepted"}
