"""`/v1/operator/…`: what Herald's operators (not channel admins) decide about channels.

Only operators reach these routes (`shared.http.auth.Operator`): anyone else gets the 404
of a path that does not exist. An unknown or deleted channel is a 404 `not-found`.

- `PUT`/`DELETE /v1/operator/channels/{channel_id}/alerts`: grant or withdraw the alert
  tier (`channels.alerts_enabled`); idempotent, 204. Posts already published keep their
  priority; an alert in flight when the grant is withdrawn is refused at its slot check.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Response

from services.publisher.api.deps import Pool, not_found
from services.publisher.store import alerts as alert_store
from shared.auth import Principal
from shared.http.auth import Operator, require_operator

# The dependency on the router runs before path parameters are validated: a non-operator
# gets 404 even for a malformed channel id, never a 422 that shows the route exists.
router = APIRouter(
    prefix="/v1/operator", tags=["operator"], dependencies=[Depends(require_operator)]
)


async def _audit(operator: Principal, action: str, channel_id: UUID) -> None:
    """Where operator actions will be written to the audit log (a later issue: the trust
    work's `audit_log`); nothing is recorded yet."""


async def _set_alerts(pool: Pool, operator: Principal, channel_id: UUID, enabled: bool) -> None:
    if not await alert_store.set_alerts(pool, channel_id, enabled):
        raise not_found()
    await _audit(operator, "alerts.granted" if enabled else "alerts.withdrawn", channel_id)


@router.put(
    "/channels/{channel_id}/alerts",
    status_code=204,
    summary="Let a channel publish alerts (operators only)",
)
async def grant_alerts(channel_id: UUID, operator: Operator, pool: Pool) -> Response:
    await _set_alerts(pool, operator, channel_id, True)
    return Response(status_code=204)


@router.delete(
    "/channels/{channel_id}/alerts",
    status_code=204,
    summary="Withdraw a channel's alerts (operators only)",
)
async def withdraw_alerts(channel_id: UUID, operator: Operator, pool: Pool) -> Response:
    await _set_alerts(pool, operator, channel_id, False)
    return Response(status_code=204)
