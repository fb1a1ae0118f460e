"""POST /v1/stream/tickets: a single-use ticket that opens the caller's stream.

A browser's `EventSource` cannot send an `Authorization` header, so it opens
`GET /v1/stream?ticket=…` instead. The ticket is 256 random bits, bound to the caller,
redeemable once within `TICKET_TTL_S` seconds on any feed process (only its SHA-256 is
stored, in Postgres). It travels in a URL, so nothing logs URLs with their query: the
servers run without an access log and error logs carry the path only.

Issuing costs a token of the caller's per-account rate limit, like every authenticated
request, so the table grows at most at that rate per account; expired rows are deleted as
new tickets are issued (see `queries.tickets`).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Response

from services.feed.api.deps import Pool
from services.feed.models import StreamTicket
from services.feed.queries import tickets as queries
from shared.http.auth import Account

router = APIRouter(tags=["stream"])

# token_urlsafe(32): 32 random bytes, 43 URL-safe characters; the contract asks ≥ 128 bits.
TICKET_BYTES = 32


@router.post(
    "/v1/stream/tickets",
    response_model=StreamTicket,
    summary="Ticket for opening the stream without an Authorization header",
)
async def issue_ticket(caller: Account, pool: Pool, response: Response) -> StreamTicket:
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    async with pool.acquire() as conn:
        await queries.issue(conn, ticket, caller.account_id)
    # A credential: no cache (browser, proxy) may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return StreamTicket(ticket=ticket, expires_in=queries.TICKET_TTL_S)
