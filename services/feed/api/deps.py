"""FastAPI dependencies of the feed: settings, pool, hub, event emitter, paging, and the
stream's caller (bearer token or single-use ticket).

Auth and per-account rate limits come from `shared.http.auth` (`Account`,
`MaybeAccount`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import Depends, Query, Request

from services.feed.config import FeedSettings
from services.feed.live.hub import Hub
from services.feed.models import PAGE_DEFAULT, PAGE_MAX
from services.feed.queries import tickets
from shared.auth import Principal
from shared.events.envelope import Event
from shared.http.auth import MaybeAccount, require_account
from shared.http.problems import Problem
from shared.http.ratelimit import RateLimiter
from shared.kafka import KafkaUnavailable, produce
from shared.metrics.feed import INTERACTIONS_EMITTED
from shared.runtime import Dependencies
from shared.topics import INTERACTIONS, LIVE

SERVICE = "feed"


def _deps(request: Request) -> Dependencies:
    deps: Dependencies = request.app.state.deps
    return deps


async def get_settings(request: Request) -> FeedSettings:
    settings: FeedSettings = request.app.state.settings
    return settings


async def get_pool(request: Request) -> asyncpg.Pool:
    return _deps(request).require_pool()


async def get_anonymous_read_pool(request: Request, caller: MaybeAccount) -> asyncpg.Pool:
    """The pool for a read of public data: the replica's (`HERALD_DATABASE_READ_URL`)
    when one is configured and the request has no caller, else the primary's.

    The choice is made here, once, from whether the request carries an account, not by
    each route: a route that reads the caller's own state (their reaction, vote,
    follow, invite) has a caller, so it always reads the primary, and a route that takes
    `AnonymousReadPool` cannot get the replica for an authenticated request even if it
    later starts reading such state. A replica lags the primary by a little (a few ms,
    more under load): an anonymous reader may see a post, a counter or a card change
    that much later than a follower does, or a page cursor a moment ahead of it. That is
    acceptable for public data no one acted on, and nothing anonymous ever writes; what
    it must never do, showing someone their own follow or vote missing right after they
    made it, cannot happen because their requests are authenticated.
    """
    read_pool: asyncpg.Pool | None = getattr(request.app.state, "read_pool", None)
    if caller is None and read_pool is not None:
        return read_pool
    return _deps(request).require_pool()


async def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


class Emitter:
    """Produces interaction events (feed → fan-out) and live signals (feed → every feed
    instance), and waits for the broker's acks.

    The caller's row is already committed when this runs; a broker outage answers 503 and
    the client retries the same idempotent request, which writes the same row and emits
    again. Fan-out's counting is idempotent, so a second event never counts twice; a live
    signal applied twice changes nothing either.
    """

    def __init__(self, request: Request) -> None:
        deps = _deps(request)
        self.settings = deps.settings
        self.producer = deps.require_producer()
        self.topic = self.settings.topic(INTERACTIONS.name)
        self.live_topic = self.settings.topic(LIVE.name)

    async def emit(
        self,
        kind: str,
        events: Sequence[tuple[UUID, Event]],
        *,
        live: Sequence[tuple[UUID, Event]] = (),
    ) -> None:
        """Produce `events` on the interactions topic and `live` on the live topic, all
        at once (one broker round trip of latency, not one per event)."""
        sends = [(self.topic, key, event) for key, event in events]
        sends += [(self.live_topic, key, event) for key, event in live]
        try:
            await asyncio.gather(
                *(
                    produce(
                        self.producer,
                        topic,
                        str(key),
                        event,
                        self.settings.produce_timeout_s,
                        SERVICE,
                    )
                    for topic, key, event in sends
                )
            )
        except KafkaUnavailable:
            raise Problem(
                503,
                "the change is saved but could not be announced; retry the request",
                type_="unavailable",
                headers={"Retry-After": "1"},
            ) from None
        INTERACTIONS_EMITTED.labels(kind=kind).inc(len(events))


Settings = Annotated[FeedSettings, Depends(get_settings)]
Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
AnonymousReadPool = Annotated[asyncpg.Pool, Depends(get_anonymous_read_pool)]
LiveHub = Annotated[Hub, Depends(get_hub)]
Emit = Annotated[Emitter, Depends(Emitter)]
Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"page size, at most {PAGE_MAX}")]
Cursor = Annotated[str | None, Query(max_length=256, description="opaque, from next_cursor")]

DEFAULT_LIMIT = PAGE_DEFAULT

# Longer than any ticket we issue (43 characters); anything longer is refused unhashed.
TICKET_MAX = 128


async def stream_account(
    request: Request,
    pool: Pool,
    ticket: Annotated[
        str | None,
        Query(
            description="single-use ticket from POST /v1/stream/tickets, for clients that "
            "cannot send an Authorization header (a browser's EventSource)"
        ),
    ] = None,
) -> Principal:
    """The caller of GET /v1/stream: from the bearer token, or from a `ticket`.

    A ticket is redeemed (used up) on any feed process; unknown, used, expired or
    oversized → 401. Both a token and a ticket → 400, so no request is ambiguous about
    whose stream it opens. Ticket redemptions are rate-limited per client IP before the
    database is asked, which bounds guessing (hopeless anyway at 256 random bits).
    """
    if ticket is None:
        return await require_account(request)
    if "authorization" in request.headers:
        raise Problem(
            400, "send either a bearer token or a ticket, not both", type_="ambiguous-auth"
        )
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.check(f"ip:{request.client.host if request.client else 'unknown'}")
    account_id = None
    if len(ticket) <= TICKET_MAX:
        async with pool.acquire() as conn:
            account_id = await tickets.redeem(conn, ticket)
    if account_id is None:
        raise Problem(
            401,
            "the ticket is unknown, used or expired; ask POST /v1/stream/tickets for a new one",
            type_="unauthorized",
        )
    return Principal(account_id)


StreamAccount = Annotated[Principal, Depends(stream_account)]
