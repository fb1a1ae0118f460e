"""`/v1/operator/…`: what Herald's operators (not channel admins) decide about channels.

Only operators reach these routes (`shared.http.auth.Operator`): anyone else gets the 404
of a path that does not exist. An unknown or deleted channel is a 404 `not-found`. Every
change is written to the channel's audit log (as the role "operator", never the
operator's account: the channel's owner reads that log).

- `PUT`/`DELETE /v1/operator/channels/{channel_id}/alerts`: grant or withdraw the alert
  tier (`channels.alerts_enabled`); idempotent, 204. Posts already published keep their
  priority; an alert in flight when the grant is withdrawn is refused at its slot check.
- `PUT`/`DELETE …/verification`: the verified badge; idempotent, 204.
- `PUT …/suspension` `{reason}` / `DELETE`: suspend (a repeat replaces the reason) /
  restore; 204. The change is committed first, so every read path answers 404 from then
  on; then `live.channel_status` tells every feed process to drop the channel from its
  open streams. If the broker does not acknowledge it the answer is 503 and a retry sends
  it again (the change itself stays).
- `GET /appeals`: open appeals, oldest first; `POST /appeals/{appeal_id}`
  `{decision: restore|uphold}`: 204; 409 `appeal-decided` when already decided.
- `GET /audit?channel_id=`: the channel's audit log, newest first (180 days).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from services.publisher.api.deps import Pool, PublisherDep, not_found
from services.publisher.moderation import (
    AppealDecision,
    AppealList,
    AppealPublic,
    AuditEntry,
    AuditLog,
    SuspensionRequest,
)
from services.publisher.publishing import Publisher, unavailable
from services.publisher.store import alerts as alert_store
from services.publisher.store import audit as audit_store
from services.publisher.store import moderation as store
from shared.events.live import ChannelStatusV1, LiveChannelStatus
from shared.http.auth import require_operator
from shared.http.problems import Problem
from shared.kafka import KafkaUnavailable, produce
from shared.logs import request_id_var
from shared.topics import LIVE

# The dependency on the router runs before path parameters are validated: a non-operator
# gets 404 even for a malformed channel id, never a 422 that shows the route exists.
router = APIRouter(
    prefix="/v1/operator", tags=["operator"], dependencies=[Depends(require_operator)]
)

PAGE_DEFAULT = 100
Limit = Annotated[int, Query(ge=1, le=audit_store.PAGE_MAX)]


async def _set_alerts(pool: Pool, channel_id: UUID, enabled: bool) -> None:
    """Grant or withdraw alerts and audit it (by role only, as every operator action)."""
    if not await alert_store.set_alerts(pool, channel_id, enabled):
        raise not_found()
    action = "alerts.granted" if enabled else "alerts.withdrawn"
    await audit_store.record(pool, channel_id, "operator", action)


async def _set_verified(pool: Pool, channel_id: UUID, verified: bool) -> None:
    if not await store.set_verified(pool, channel_id, verified):
        raise not_found()


@router.put(
    "/channels/{channel_id}/alerts",
    status_code=204,
    summary="Let a channel publish alerts (operators only)",
)
async def grant_alerts(channel_id: UUID, pool: Pool) -> Response:
    await _set_alerts(pool, channel_id, True)
    return Response(status_code=204)


@router.delete(
    "/channels/{channel_id}/alerts",
    status_code=204,
    summary="Withdraw a channel's alerts (operators only)",
)
async def withdraw_alerts(channel_id: UUID, pool: Pool) -> Response:
    await _set_alerts(pool, channel_id, False)
    return Response(status_code=204)


@router.put(
    "/channels/{channel_id}/verification",
    status_code=204,
    summary="Give a channel the verified badge (operators only)",
)
async def verify(channel_id: UUID, pool: Pool) -> Response:
    await _set_verified(pool, channel_id, True)
    return Response(status_code=204)


@router.delete(
    "/channels/{channel_id}/verification",
    status_code=204,
    summary="Take a channel's verified badge away (operators only)",
)
async def unverify(channel_id: UUID, pool: Pool) -> Response:
    await _set_verified(pool, channel_id, False)
    return Response(status_code=204)


async def send_status(publisher: Publisher, channel_id: UUID, suspended: bool) -> None:
    """Tell every feed process the channel's status (503 when the broker does not ack)."""
    event = LiveChannelStatus(
        request_id=request_id_var.get(),
        payload=ChannelStatusV1(
            channel_id=channel_id, status="suspended" if suspended else "active"
        ),
    )
    settings = publisher.settings
    try:
        await produce(
            publisher.producer,
            settings.topic(LIVE.name),
            str(channel_id),
            event,
            settings.produce_timeout_s,
            publisher.service,
        )
    except KafkaUnavailable as exc:
        raise unavailable() from exc


@router.put(
    "/channels/{channel_id}/suspension",
    status_code=204,
    summary="Suspend a channel, with a reason its admins see (operators only)",
)
async def suspend(
    channel_id: UUID, body: SuspensionRequest, pool: Pool, publisher: PublisherDep
) -> Response:
    if not await store.suspend(pool, channel_id, body.reason):
        raise not_found()
    await send_status(publisher, channel_id, True)
    return Response(status_code=204)


@router.delete(
    "/channels/{channel_id}/suspension",
    status_code=204,
    summary="Restore a suspended channel (operators only)",
)
async def restore(channel_id: UUID, pool: Pool, publisher: PublisherDep) -> Response:
    if not await store.restore(pool, channel_id):
        raise not_found()
    await send_status(publisher, channel_id, False)
    return Response(status_code=204)


@router.get("/appeals", summary="Open appeals, oldest first (operators only)")
async def list_appeals(
    pool: Pool, after: datetime | None = None, limit: Limit = PAGE_DEFAULT
) -> AppealList:
    rows = await store.open_appeals(pool, after, limit)
    return AppealList(appeals=[AppealPublic.model_validate(row) for row in rows])


@router.post(
    "/appeals/{appeal_id}",
    status_code=204,
    summary="Decide an appeal: restore the channel or uphold the suspension (operators only)",
)
async def decide_appeal(
    appeal_id: UUID, body: AppealDecision, pool: Pool, publisher: PublisherDep
) -> Response:
    try:
        channel_id = await store.decide(pool, appeal_id, body.decision)
    except store.AppealDecided:
        raise Problem(409, "the appeal was decided already", type_="appeal-decided") from None
    if channel_id is None:
        raise not_found("appeal")
    if body.decision == "restore":
        await send_status(publisher, channel_id, False)
    return Response(status_code=204)


@router.get("/audit", summary="A channel's audit log, newest first (operators only)")
async def operator_audit(
    channel_id: UUID, pool: Pool, before: datetime | None = None, limit: Limit = PAGE_DEFAULT
) -> AuditLog:
    rows = await audit_store.entries(pool, channel_id, before, limit)
    return AuditLog(entries=[AuditEntry.model_validate(row) for row in rows])
