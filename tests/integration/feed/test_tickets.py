"""Stream tickets: a browser's EventSource (no Authorization header) opens its stream with a
single-use ticket and resumes with `?last_event_id=`; tickets are stored hashed, cannot be
reused or used late, and never reach a log line."""

from __future__ import annotations

import hashlib

import asyncpg
import httpx

from tests.integration.feed.builder import Publisher, create_channel, text_body, wait_post_visible
from tests.integration.feed.sse import SseReader, is_post
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth


async def _ticket(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post("/v1/stream/tickets", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 60
    ticket: str = body["ticket"]
    # token_urlsafe(32): 256 random bits in 43 URL-safe characters.
    assert len(ticket) >= 43
    return ticket


def _hash(ticket: str) -> bytes:
    return hashlib.sha256(ticket.encode()).digest()


async def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_ticket_opens_the_callers_stream_once_and_is_stored_hashed(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher, feed: ServiceProcess
) -> None:
    channel_id = await create_channel(db, name="Ticket news")
    me = auth("ticket-holder-1")
    assert (await client.put(f"/v1/channels/{channel_id}/follow", headers=me)).status_code == 200
    ticket = await _ticket(client, me)

    stored = await db.fetch(
        "SELECT hash, account_id FROM stream_tickets WHERE hash = $1", _hash(ticket)
    )
    assert [r["account_id"] for r in stored] == ["ticket-holder-1"]
    leaked = "SELECT count(*) FROM stream_tickets t WHERE strpos(row_to_json(t)::text, $1) > 0"
    assert await db.fetchval(leaked, ticket) == 0

    async with SseReader(client, {}, params={"ticket": ticket}) as stream:
        assert stream.status == 200
        post_id = await publish.publish(channel_id, text_body("for the ticket holder"))
        assert (await stream.next(is_post)).data["post_id"] == str(post_id)

    # Single use: the same ticket, even on a fresh connection, is refused.
    await _problem(await client.get("/v1/stream", params={"ticket": ticket}), 401)
    # Neither the ticket nor its use left a trace in the service's log.
    assert ticket not in feed.log_text()


async def test_bad_expired_and_ambiguous_tickets_are_refused(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    me = auth("ticket-holder-2")
    for bad in ("not-a-ticket", "x" * 5000, ""):
        await _problem(await client.get("/v1/stream", params={"ticket": bad}), 401)

    ticket = await _ticket(client, me)
    # Both a token and a ticket: refused, and the ticket stays usable.
    await _problem(await client.get("/v1/stream", params={"ticket": ticket}, headers=me), 400)
    # The ticket's minute passes (moved back in the database rather than waited for).
    await db.execute(
        "UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE hash = $1",
        _hash(ticket),
    )
    await _problem(await client.get("/v1/stream", params={"ticket": ticket}), 401)
    # Asking for a ticket needs an account.
    await _problem(await client.post("/v1/stream/tickets"), 401)


async def test_expired_tickets_are_cleaned_up_as_new_ones_are_issued(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    me = auth("ticket-holder-3")
    old = [await _ticket(client, me) for _ in range(3)]
    await db.execute(
        "UPDATE stream_tickets SET expires_at = now() - interval '2 minutes'"
        " WHERE hash = ANY($1::bytea[])",
        [_hash(t) for t in old],
    )
    fresh = await _ticket(client, me)
    left = await db.fetch(
        "SELECT hash FROM stream_tickets WHERE hash = ANY($1::bytea[])",
        [_hash(t) for t in [*old, fresh]],
    )
    assert [r["hash"] for r in left] == [_hash(fresh)]


async def test_last_event_id_in_the_query_resumes_like_the_header(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    channel_id = await create_channel(db, name="Resume by query")
    me = auth("ticket-resumer")
    assert (await client.put(f"/v1/channels/{channel_id}/follow", headers=me)).status_code == 200
    posts = [await publish.publish(channel_id, text_body(f"post {i}")) for i in range(4)]
    for post_id in posts:
        await wait_post_visible(client, channel_id, post_id)
    async with SseReader(client, me, params={"last_event_id": _before_all()}) as stream:
        ids = [(await stream.next(is_post)).id for _ in posts]
    assert all(ids)

    # A browser reopening with a fresh ticket: what follows post 0 is replayed.
    ticket = await _ticket(client, me)
    async with SseReader(
        client, {}, params={"ticket": ticket, "last_event_id": str(ids[0])}
    ) as stream:
        replayed = [(await stream.next(is_post)).data["post_id"] for _ in posts[1:]]
    assert replayed == [str(p) for p in posts[1:]]

    # Both given: the header (EventSource's own, newer id) wins over the URL's.
    async with SseReader(
        client, {**me, "Last-Event-ID": str(ids[2])}, params={"last_event_id": str(ids[0])}
    ) as stream:
        assert (await stream.next(is_post)).data["post_id"] == str(posts[3])

    await _problem(
        await client.get("/v1/stream", params={"last_event_id": "nope"}, headers=me), 400
    )


def _before_all() -> str:
    """An event id older than any post: replays the whole (short) history."""
    return f"1-{'0' * 32}"
