"""`PUT`/`DELETE /v1/channels/{id}/pins/{post_id}`: pin a published post to the channel's
card, or unpin it — admins; both idempotent, 204.

At most `MAX_PINS` (3) live pins per channel: a 4th is 409 `too-many-pins`. Pinning a post
that is not published in the channel (unknown, not yet persisted by fan-out, deleted or
expired) is 404. The feed shows live pins on the card as `pinned` ({post_id, seq}); a pin
whose post expires or is deleted disappears from it at once (readers join the post).
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from services.publisher.api.deps import AdminAccess, Pool
from services.publisher.store import pins as store
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/channels", tags=["pins"])


@router.put("/{channel_id}/pins/{post_id}", status_code=204, summary="Pin a post")
async def pin_post(post_id: UUID, access: AdminAccess, pool: Pool) -> Response:
    try:
        await store.pin(pool, access.channel_id, post_id)
    except store.NoSuchPost:
        raise Problem(
            404, "no published, unexpired post with this id in the channel", type_="not-found"
        ) from None
    except store.TooManyPins:
        raise Problem(
            409,
            f"the channel already has {store.MAX_PINS} pinned posts; unpin one first",
            type_="too-many-pins",
        ) from None
    return Response(status_code=204)


@router.delete("/{channel_id}/pins/{post_id}", status_code=204, summary="Unpin a post")
async def unpin_post(post_id: UUID, access: AdminAccess, pool: Pool) -> Response:
    await store.unpin(pool, access.channel_id, post_id)
    return Response(status_code=204)
