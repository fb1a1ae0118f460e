"""FastAPI dependencies of the publisher: its connections, the `Publisher` (every change
that goes through the posts topic) and the caller's channel role.

Authorisation: no token → 401 (from `Account`); a caller who is not an admin of an active
(or suspended) channel gets 404 on every channel endpoint — the same answer as for a
channel that does not exist, so nobody learns which channels exist or who administers
them. Owner-only actions answer 403 to an admin, who already knows the channel. While an
operator has the channel suspended, its admins may read it (`AdminViewAccess`: the admin
view with the reason, the audit log, the appeal) and every other channel endpoint
answers 409 `channel-suspended`.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import Depends, Header, Request

from services.publisher.config import PublisherSettings
from services.publisher.publishing import Publisher
from services.publisher.store.channels import Access, access_of
from shared.http.auth import Account
from shared.http.problems import Problem
from shared.media import LocalMediaStore

IDEMPOTENCY_KEY_MAX = 128


async def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.deps.require_pool()
    return pool


async def _publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


async def _settings(request: Request) -> PublisherSettings:
    settings: PublisherSettings = request.app.state.settings
    return settings


async def _media_store(request: Request) -> LocalMediaStore:
    store: LocalMediaStore = request.app.state.media_store
    return store


Pool = Annotated[asyncpg.Pool, Depends(_pool)]
PublisherDep = Annotated[Publisher, Depends(_publisher)]
Settings = Annotated[PublisherSettings, Depends(_settings)]
MediaStoreDep = Annotated[LocalMediaStore, Depends(_media_store)]


def not_found(what: str = "channel") -> Problem:
    return Problem(404, f"no such {what}", type_="not-found")


async def require_admin_view(channel_id: UUID, principal: Account, pool: Pool) -> Access:
    """An admin of the channel, active or suspended."""
    access = await access_of(pool, channel_id, principal.account_id)
    if access is None:
        raise not_found()
    return access


AdminViewAccess = Annotated[Access, Depends(require_admin_view)]


async def require_admin(access: AdminViewAccess) -> Access:
    """An admin of an active channel: changes to a suspended one are refused."""
    if access.suspended:
        raise Problem(
            409,
            "the channel is suspended by an operator; its owner may appeal",
            type_="channel-suspended",
        )
    return access


AdminAccess = Annotated[Access, Depends(require_admin)]


def _owner(access: Access) -> Access:
    if not access.is_owner:
        raise Problem(403, "only the channel's owner may do this", type_="owner-only")
    return access


async def require_owner(access: AdminAccess) -> Access:
    return _owner(access)


OwnerAccess = Annotated[Access, Depends(require_owner)]


async def require_owner_view(access: AdminViewAccess) -> Access:
    """The owner of the channel, active or suspended."""
    return _owner(access)


OwnerViewAccess = Annotated[Access, Depends(require_owner_view)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=IDEMPOTENCY_KEY_MAX,
            pattern=r"^[\x21-\x7e]+$",
            description="Retrying with the same key (≤ 128 printable ASCII characters) "
            "returns the same post_id and publishes nothing new; kept at least 24 hours.",
        ),
    ] = None,
) -> str | None:
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
