"""Filing reports on the real feed: accepted, refused as a second open report, refused for
bad input or a target the caller cannot read (changing nothing), rate-limited per account;
a reported post's body is kept as evidence when its admin deletes it; the stored rows
name no reporter."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from uuid import UUID

import asyncpg
import httpx

from tests.integration.feed.builder import (
    Publisher,
    create_channel,
    eventually,
    text_body,
    wait_post_visible,
)
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth


def _account(prefix: str = "rep") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def _report_rows(db: asyncpg.Pool, channel_id: UUID) -> list[str]:
    """Every stored column of the channel's reports, as text."""
    rows = await db.fetch("SELECT r::text AS t FROM reports r WHERE channel_id = $1", channel_id)
    return [row["t"] for row in rows]


async def test_report_accepted_and_a_second_open_one_refused(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    channel_id = await create_channel(db)
    post_id = await publish.publish(channel_id, text_body("buy cheap pills"))
    await wait_post_visible(client, channel_id, post_id)
    reporter, other = _account(), _account()
    target = {"channel_id": str(channel_id), "post_id": str(post_id)}

    first = await client.post(
        "/v1/reports", json={**target, "reason": "spam", "note": "ads"}, headers=auth(reporter)
    )
    assert first.status_code == 202, first.text
    assert set(first.json()) == {"report_id"}
    again = await client.post(
        "/v1/reports", json={**target, "reason": "scam"}, headers=auth(reporter)
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("already-reported")
    assert reporter not in again.text
    # Another account on the same post, and the same account on the channel itself.
    second = await client.post(
        "/v1/reports", json={**target, "reason": "scam"}, headers=auth(other)
    )
    assert second.status_code == 202
    channel_report = await client.post(
        "/v1/reports",
        json={"channel_id": str(channel_id), "reason": "other"},
        headers=auth(reporter),
    )
    assert channel_report.status_code == 202

    rows = await _report_rows(db, channel_id)
    assert len(rows) == 3
    assert not [row for row in rows if reporter in row or other in row]
    reasons = await db.fetch(
        "SELECT reason, count(*) AS n FROM reports WHERE channel_id = $1 GROUP BY reason",
        channel_id,
    )
    assert {r["reason"]: r["n"] for r in reasons} == {"spam": 1, "scam": 1, "other": 1}


async def test_bad_reports_are_refused_and_change_nothing(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    channel_id = await create_channel(db)
    other_channel = await create_channel(db)
    suspended = await create_channel(db, status="suspended")
    invite_only = await create_channel(
        db, settings={"reactions": "all", "allowed_reactions": [], "visibility": "invite"}
    )
    post_id = await publish.publish(channel_id, text_body("a post"))
    gone_id = await publish.publish(channel_id, text_body("deleted soon"))
    await wait_post_visible(client, channel_id, post_id)
    await wait_post_visible(client, channel_id, gone_id)
    await publish.delete(channel_id, gone_id)

    async def deleted() -> bool:
        page = (await client.get(f"/v1/channels/{channel_id}/posts")).json()["items"]
        return all(p["post_id"] != str(gone_id) for p in page)

    await eventually(deleted, what="post deleted")
    me = auth(_account())
    c = str(channel_id)
    refusals: list[tuple[dict[str, object], int]] = [
        ({"channel_id": c, "reason": "boring"}, 422),
        ({"channel_id": c, "reason": "spam", "severity": "high"}, 422),
        ({"channel_id": c, "reason": "spam", "note": "x" * 1001}, 422),
        ({"channel_id": c, "reason": "spam", "note": "nul \x00 inside"}, 422),
        ({"channel_id": "not-a-uuid", "reason": "spam"}, 422),
        ({"reason": "spam"}, 422),
        ({"channel_id": str(uuid.uuid4()), "reason": "spam"}, 404),
        ({"channel_id": c, "post_id": str(uuid.uuid4()), "reason": "spam"}, 404),
        ({"channel_id": str(other_channel), "post_id": str(post_id), "reason": "spam"}, 404),
        ({"channel_id": c, "post_id": str(gone_id), "reason": "spam"}, 404),
        ({"channel_id": str(suspended), "reason": "spam"}, 404),
        ({"channel_id": str(invite_only), "reason": "spam"}, 404),
    ]
    for body, status in refusals:
        response = await client.post("/v1/reports", json=body, headers=me)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    no_token = await client.post("/v1/reports", json={"channel_id": c, "reason": "spam"})
    assert no_token.status_code == 401
    count = await db.fetchval(
        "SELECT count(*) FROM reports WHERE channel_id = ANY($1::uuid[])",
        [channel_id, other_channel, suspended, invite_only],
    )
    assert count == 0
    assert (
        await db.fetchval("SELECT count(*) FROM report_evidence WHERE channel_id = $1", channel_id)
        == 0
    )


async def test_evidence_is_copied_once_and_survives_the_admin_deleting_the_post(
    client: httpx.AsyncClient, db: asyncpg.Pool, publish: Publisher
) -> None:
    channel_id = await create_channel(db)
    post_id = await publish.publish(channel_id, text_body("send me your savings"))
    await wait_post_visible(client, channel_id, post_id)
    target = {"channel_id": str(channel_id), "post_id": str(post_id)}
    expect = await client.post(
        "/v1/reports", json={**target, "reason": "scam"}, headers=auth(_account())
    )
    assert expect.status_code == 202
    first = await db.fetchrow(
        "SELECT body, copied_at, expires_at FROM report_evidence WHERE post_id = $1", post_id
    )
    assert first is not None and first["body"]["text"] == "send me your savings"
    post_expiry = await db.fetchval("SELECT expires_at FROM posts WHERE post_id = $1", post_id)
    assert first["expires_at"] == post_expiry

    await publish.delete(channel_id, post_id)

    async def deleted() -> bool:
        page = (await client.get(f"/v1/channels/{channel_id}/posts")).json()["items"]
        return all(p["post_id"] != str(post_id) for p in page)

    await eventually(deleted, what="post deleted")
    later = await db.fetchrow(
        "SELECT body, copied_at FROM report_evidence WHERE post_id = $1", post_id
    )
    assert later is not None
    assert (later["body"], later["copied_at"]) == (first["body"], first["copied_at"])
    # The deleted post takes no more reports.
    refused = await client.post(
        "/v1/reports", json={**target, "reason": "spam"}, headers=auth(_account())
    )
    assert refused.status_code == 404


async def test_reports_are_rate_limited_per_account(
    spawn_service: Callable[..., ServiceProcess], db: asyncpg.Pool
) -> None:
    feed = await spawn_service("feed", HERALD_FEED_REPORTS_PER_MINUTE="2").start()
    channels = [await create_channel(db) for _ in range(3)]
    me, other = auth(_account()), auth(_account())
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=10) as http:
        statuses = []
        for channel_id in channels:
            response = await http.post(
                "/v1/reports", json={"channel_id": str(channel_id), "reason": "spam"}, headers=me
            )
            statuses.append(response.status_code)
        assert statuses == [202, 202, 429]
        assert int(response.headers["retry-after"]) >= 1
        # The refused report was not stored, and another account is not held back.
        assert (
            await db.fetchval("SELECT count(*) FROM reports WHERE channel_id = $1", channels[2])
            == 0
        )
        elsewhere = await http.post(
            "/v1/reports", json={"channel_id": str(channels[2]), "reason": "spam"}, headers=other
        )
        assert elsewhere.status_code == 202
