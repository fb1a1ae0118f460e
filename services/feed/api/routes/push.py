"""Web Push: the VAPID public key and the caller's push subscriptions.

`GET /v1/push/key` (anyone) gives the application server key a browser passes to
`PushManager.subscribe`. `PUT /v1/me/push-subscriptions` stores the browser's
`PushSubscription.toJSON()`: 201 with a new id, 200 with the same id when the caller
already has that endpoint (idempotent); an endpoint held by another account moves to the
caller (see `queries.push`). At most `MAX_SUBSCRIPTIONS_PER_ACCOUNT` per account (over
it: 409 `too-many-subscriptions`). Refused with 422, changing nothing:
- keys that are not a valid uncompressed P-256 point and a 16-byte secret
  (`invalid-push-keys`): nothing could ever be encrypted to them;
- an endpoint that is not https, or whose host resolves to any internal address
  (`endpoint-refused`, naming the rule, never the address): Herald would be made to POST
  into its own network. `HERALD_PUSH_ALLOW_INSECURE_ENDPOINTS` (never in production)
  admits both, for a local test receiver. The push service checks again at each send.

Listing shows each endpoint's origin only: the full URL is a capability to push to that
browser. Every query is keyed by the caller's account: another account's subscription is
a 404, exactly like one that does not exist.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, Request, Response

from services.feed.api.deps import Pool, Settings
from services.feed.models import (
    PushKey,
    PushSubscriptionCreate,
    PushSubscriptionCreated,
    PushSubscriptionPublic,
)
from services.feed.queries import push as queries
from shared.http.auth import Account, MaybeAccount
from shared.http.problems import Problem
from shared.push.endpoints import EndpointRefused, parse_endpoint, resolve_allowed
from shared.push.vapid import application_server_key, load_or_create_private_key
from shared.settings import Environment, HeraldSettings

router = APIRouter(tags=["push"])

# DESIGN.md: ≤ 10 per account (a person's browsers and devices, with room to spare).
MAX_SUBSCRIPTIONS_PER_ACCOUNT = 10
P256_POINT_BYTES = 65
AUTH_SECRET_BYTES = 16
# The key changes only when an operator replaces the file (which breaks every existing
# subscription anyway): clients and proxies may keep it a while.
KEY_CACHE_CONTROL = "public, max-age=300"

_REFUSAL_DETAIL = {
    "not-https": "the endpoint must be an https URL",
    "userinfo": "the endpoint must not carry a user name or password",
    "too-long": "the endpoint is longer than 2048 characters",
    "no-host": "the endpoint has no host",
    "malformed": "the endpoint is not a well-formed URL",
    "unresolvable": "the endpoint's host does not resolve",
    "internal-address": "the endpoint's host resolves to an address Herald does not deliver to",
}


def load_push_key(settings: HeraldSettings) -> str:
    """Read the VAPID key file (created outside production on first start) and return the
    application server key. Blocking file I/O: call once at start, never per request."""
    key = load_or_create_private_key(
        settings.push_vapid_private_key_file,
        create=settings.environment is not Environment.PRODUCTION,
    )
    return application_server_key(key)


async def _public_key(request: Request) -> str:
    public_key: str = request.app.state.push_public_key
    return public_key


PublicKey = Annotated[str, Depends(_public_key)]


@router.get("/v1/push/key", response_model=PushKey, summary="VAPID application server key")
async def get_key(_caller: MaybeAccount, public_key: PublicKey, response: Response) -> PushKey:
    response.headers["Cache-Control"] = KEY_CACHE_CONTROL
    return PushKey(public_key=public_key)


@router.put(
    "/v1/me/push-subscriptions",
    response_model=PushSubscriptionCreated,
    status_code=201,
    responses={200: {"model": PushSubscriptionCreated, "description": "already subscribed"}},
    summary="Subscribe this browser to push",
)
async def subscribe(
    body: PushSubscriptionCreate,
    caller: Account,
    pool: Pool,
    settings: Settings,
    response: Response,
) -> PushSubscriptionCreated:
    p256dh, auth = _keys(body)
    expiration = _expiration(body.expiration_time)
    allow_insecure = settings.push_allow_insecure_endpoints
    try:
        endpoint = parse_endpoint(body.endpoint, allow_insecure=allow_insecure)
        await resolve_allowed(endpoint.host, endpoint.port, allow_insecure=allow_insecure)
    except EndpointRefused as refused:
        raise Problem(
            422,
            _REFUSAL_DETAIL.get(refused.reason, "the endpoint is refused"),
            type_="endpoint-refused",
            extra={"reason": refused.reason},
        ) from None
    async with pool.acquire() as conn:
        try:
            result = await queries.subscribe(
                conn,
                caller.account_id,
                endpoint.url,
                p256dh,
                auth,
                expiration,
                MAX_SUBSCRIPTIONS_PER_ACCOUNT,
            )
        except queries.SubscriptionLimitReached:
            raise Problem(
                409,
                f"an account has at most {MAX_SUBSCRIPTIONS_PER_ACCOUNT} push subscriptions; "
                "delete one first",
                type_="too-many-subscriptions",
            ) from None
    if not result.created:
        response.status_code = 200
    return PushSubscriptionCreated(subscription_id=result.subscription_id)


@router.get(
    "/v1/me/push-subscriptions",
    response_model=list[PushSubscriptionPublic],
    summary="My push subscriptions",
)
async def list_subscriptions(caller: Account, pool: Pool) -> list[PushSubscriptionPublic]:
    async with pool.acquire() as conn:
        rows = await queries.list_own(conn, caller.account_id)
    return [
        PushSubscriptionPublic(
            subscription_id=row["subscription_id"],
            origin=_origin(row["endpoint"]),
            created_at=row["created_at"],
        )
        for row in rows
    ]


@router.delete(
    "/v1/me/push-subscriptions/{subscription_id}", status_code=204, summary="Unsubscribe"
)
async def unsubscribe(subscription_id: UUID, caller: Account, pool: Pool) -> Response:
    async with pool.acquire() as conn:
        deleted = await queries.unsubscribe(conn, caller.account_id, subscription_id)
    if not deleted:
        raise Problem(404, "no such push subscription", type_="not-found")
    return Response(status_code=204)


def _keys(body: PushSubscriptionCreate) -> tuple[bytes, bytes]:
    """The decoded `p256dh` and `auth`, or 422 `invalid-push-keys`."""
    p256dh = _b64url(body.keys.p256dh)
    auth = _b64url(body.keys.auth)
    if p256dh is None or len(p256dh) != P256_POINT_BYTES or p256dh[0] != 0x04:
        raise _invalid_keys("keys.p256dh must be a 65-byte uncompressed P-256 point")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise _invalid_keys("keys.p256dh is not a point on P-256") from None
    if auth is None or len(auth) != AUTH_SECRET_BYTES:
        raise _invalid_keys("keys.auth must be a 16-byte secret")
    return p256dh, auth


def _b64url(text: str) -> bytes | None:
    unpadded = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        return None


def _invalid_keys(detail: str) -> Problem:
    return Problem(422, detail, type_="invalid-push-keys")


def _expiration(ms: float | None) -> datetime | None:
    if ms is None:
        return None
    at = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if at <= datetime.now(tz=UTC):
        raise Problem(422, "expirationTime is in the past", type_="validation")
    return at


def _origin(endpoint: str) -> str:
    # Every stored endpoint was parsed at subscribe; the origin's form does not depend on
    # whether insecure endpoints are allowed now.
    try:
        return parse_endpoint(endpoint, allow_insecure=True).origin
    except EndpointRefused:
        return "unknown"
