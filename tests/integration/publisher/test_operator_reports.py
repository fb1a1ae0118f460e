"""Operators and reports on the real stack: reports filed on the feed, listed grouped by
target and resolved on the publisher. Exact grouped counts under concurrent filing; a
resolved target's reports close at once (a reporter may report again) and are deleted,
evidence and reporter tags included, by retention; evidence outlives the admin's delete;
operator endpoints answer operators only; no reporter is named in any answer, log line
or metric."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from services.retention.reports import purge_reports
from tests.integration.feed.builder import eventually, wait_post_visible
from tests.security.world import create_channel, expect, publish
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth, operator_auth

REASONS = ("spam", "scam", "impersonation", "violence", "hate", "sexual", "misinformation", "other")
ACCOUNTS = 100
# Reports in flight at once: enough to race on every target, bounded for a 2-core machine.
CONCURRENCY = 16
OPERATOR = operator_auth(f"op-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def fd(feed: ServiceProcess, fanout: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=feed.base_url, timeout=20) as http:
        yield http


def _account(prefix: str = "rep") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _target(channel_id: str, post_id: str | None) -> dict[str, str]:
    return {"channel_id": channel_id} | ({"post_id": post_id} if post_id else {})


async def _open_targets(client: httpx.AsyncClient, channels: set[str]) -> list[dict[str, Any]]:
    """Every open target of `channels`, walking the pages (small ones, to use the cursor)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"status": "open", "limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = expect(
            await client.get("/v1/operator/reports", params=params, headers=OPERATOR), 200
        )
        items += [item for item in page["items"] if item["channel_id"] in channels]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _visible_post(
    client: httpx.AsyncClient, fd: httpx.AsyncClient, channel_id: str, owner: str, text: str
) -> str:
    post_id = await publish(client, channel_id, owner, {"type": "text", "text": text})
    await wait_post_visible(fd, uuid.UUID(channel_id), uuid.UUID(post_id))
    return post_id


async def test_a_thousand_reports_are_grouped_exactly(
    client: httpx.AsyncClient, fd: httpx.AsyncClient
) -> None:
    owner = _account("own")
    channels = [await create_channel(client, owner) for _ in range(2)]
    posts = [
        (channels[i % 2], await _visible_post(client, fd, channels[i % 2], owner, f"post {i}"))
        for i in range(8)
    ]
    targets: list[tuple[str, str | None]] = [(c, None) for c in channels] + list(posts)
    accounts = [_account() for _ in range(ACCOUNTS)]
    expected: dict[tuple[str, str | None], dict[str, int]] = {t: {} for t in targets}
    jobs = []
    # Target by target, so the requests in flight together meet on the same target.
    for (t, target), (a, account) in itertools.product(enumerate(targets), enumerate(accounts)):
        reason = REASONS[(a + 3 * t) % len(REASONS)]
        expected[target][reason] = expected[target].get(reason, 0) + 1
        jobs.append((account, target, reason))
    gate = asyncio.Semaphore(CONCURRENCY)

    async def file(account: str, target: tuple[str, str | None], reason: str) -> int:
        async with gate:
            body = _target(*target) | {"reason": reason}
            response = await fd.post("/v1/reports", json=body, headers=auth(account))
            return response.status_code

    statuses = await asyncio.gather(*(file(*job) for job in jobs))
    assert statuses.count(202) == ACCOUNTS * len(targets), sorted(set(statuses))

    listed = await _open_targets(client, set(channels))
    by_target = {(item["channel_id"], item.get("post_id")): item for item in listed}
    assert set(by_target) == set(targets)
    for target, item in by_target.items():
        assert item["count"] == ACCOUNTS
        assert item["reasons"] == expected[target]
        assert item["first_at"] <= item["last_at"]
        if target[1] is None:
            assert item.get("evidence") is None
        else:
            assert item["evidence"]["body"]["type"] == "text"
    # An empty cursor reads the first page; one this API did not give is a 422.
    first = await client.get("/v1/operator/reports?cursor=&limit=1", headers=OPERATOR)
    assert len(expect(first, 200)["items"]) == 1
    forged = await client.get("/v1/operator/reports?cursor=bm90LWEtY3Vyc29y", headers=OPERATOR)
    assert forged.status_code == 422
    # Oldest waiting first, each target once.
    firsts = [item["first_at"] for item in listed]
    assert firsts == sorted(firsts) and len(listed) == len(targets)


async def test_resolve_closes_a_target_and_its_reporter_may_report_again(
    client: httpx.AsyncClient, fd: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner = _account("own")
    channel_id = await create_channel(client, owner)
    reporter = auth(_account())
    target = _target(channel_id, None)
    expect(await fd.post("/v1/reports", json=target | {"reason": "hate"}, headers=reporter), 202)
    assert (
        await fd.post("/v1/reports", json=target | {"reason": "hate"}, headers=reporter)
    ).status_code == 409

    resolve = target | {"resolution": "dismissed"}
    done = expect(
        await client.post("/v1/operator/reports/resolve", json=resolve, headers=OPERATOR), 200
    )
    assert (done["count"], done["resolution"]) == (1, "dismissed")
    assert await _open_targets(client, {channel_id}) == []
    # Closed at once: the same account may report the same target again.
    expect(await fd.post("/v1/reports", json=target | {"reason": "spam"}, headers=reporter), 202)
    [item] = await _open_targets(client, {channel_id})
    assert (item["count"], item["reasons"]) == (1, {"spam": 1})
    # Nothing open twice over: a repeated resolve records nothing more.
    again = expect(
        await client.post("/v1/operator/reports/resolve", json=resolve, headers=OPERATOR), 200
    )
    assert again["count"] == 1
    nothing = expect(
        await client.post("/v1/operator/reports/resolve", json=resolve, headers=OPERATOR), 200
    )
    assert nothing["count"] == 0 and nothing.get("resolved_at") is None
    recorded = await db.fetch(
        "SELECT resolution, count FROM report_resolutions WHERE channel_id = $1 "
        "ORDER BY resolved_at",
        uuid.UUID(channel_id),
    )
    assert [(r["resolution"], r["count"]) for r in recorded] == [("dismissed", 1), ("dismissed", 1)]
    # Retention deletes the closed reports with their tags; the resolutions keep counts only.
    await purge_reports(db, datetime.now(UTC), 1000)
    assert (
        await db.fetchval(
            "SELECT count(*) FROM reports WHERE channel_id = $1", uuid.UUID(channel_id)
        )
        == 0
    )


async def test_evidence_outlives_the_admins_delete_and_goes_with_the_resolution(
    client: httpx.AsyncClient, fd: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner = _account("own")
    channel_id = await create_channel(client, owner)
    post_id = await _visible_post(client, fd, channel_id, owner, "wire the money tonight")
    target = _target(channel_id, post_id)
    for reason in ("scam", "scam", "misinformation"):
        expect(
            await fd.post(
                "/v1/reports",
                json=target | {"reason": reason, "note": "fraud"},
                headers=auth(_account()),
            ),
            202,
        )
    expect(
        await client.delete(f"/v1/channels/{channel_id}/posts/{post_id}", headers=auth(owner)), 202
    )

    async def gone() -> bool:
        page = (await fd.get(f"/v1/channels/{channel_id}/posts")).json()["items"]
        return all(p["post_id"] != post_id for p in page)

    await eventually(gone, what="post deleted for everyone")
    [item] = await _open_targets(client, {channel_id})
    assert item["post_id"] == post_id and item["count"] == 3
    assert item["reasons"] == {"scam": 2, "misinformation": 1}
    assert item["evidence"]["body"]["text"] == "wire the money tonight"
    assert item["notes"] == ["fraud"] * 3

    done = expect(
        await client.post(
            "/v1/operator/reports/resolve",
            json=target | {"resolution": "actioned"},
            headers=OPERATOR,
        ),
        200,
    )
    assert done["count"] == 3
    assert await _open_targets(client, {channel_id}) == []
    await purge_reports(db, datetime.now(UTC), 1000)
    pid = uuid.UUID(post_id)
    assert await db.fetchval("SELECT count(*) FROM report_evidence WHERE post_id = $1", pid) == 0
    assert await db.fetchval("SELECT count(*) FROM reports WHERE post_id = $1", pid) == 0


async def test_operator_endpoints_answer_operators_only(
    client: httpx.AsyncClient, fd: httpx.AsyncClient
) -> None:
    owner = _account("own")
    channel_id = await create_channel(client, owner)
    target = _target(channel_id, None)
    expect(
        await fd.post("/v1/reports", json=target | {"reason": "spam"}, headers=auth(_account())),
        202,
    )
    for headers in ({}, auth(_account()), auth(owner)):
        listed = await client.get("/v1/operator/reports?status=open", headers=headers)
        resolved = await client.post(
            "/v1/operator/reports/resolve",
            json=target | {"resolution": "dismissed"},
            headers=headers,
        )
        assert (listed.status_code, resolved.status_code) == (404, 404)
        assert listed.json()["status"] == resolved.json()["status"] == 404
    [item] = await _open_targets(client, {channel_id})
    assert item["count"] == 1  # nothing resolved by anyone but operators


async def test_no_reporter_is_named_anywhere(
    client: httpx.AsyncClient,
    fd: httpx.AsyncClient,
    publisher: ServiceProcess,
    feed: ServiceProcess,
    db: asyncpg.Pool,
) -> None:
    owner = _account("own")
    channel_id = await create_channel(client, owner)
    post_id = await _visible_post(client, fd, channel_id, owner, "canary bait")
    canaries = [f"canary-{uuid.uuid4().hex}" for _ in range(3)]
    documents: list[tuple[str, str]] = []
    for canary in canaries:
        me = auth(canary)
        for target in (_target(channel_id, None), _target(channel_id, post_id)):
            for body in (
                target | {"reason": "spam"},
                target | {"reason": "spam"},
                target | {"reason": "nope"},
            ):
                response = await fd.post("/v1/reports", json=body, headers=me)
                assert response.status_code in (202, 409, 422)
                documents.append(("own answer", response.text))
        missing = await fd.post(
            "/v1/reports", json={"channel_id": str(uuid.uuid4()), "reason": "spam"}, headers=me
        )
        assert missing.status_code == 404
        documents.append(("own answer", missing.text))
    listed = await client.get("/v1/operator/reports", params={"limit": 100}, headers=OPERATOR)
    documents.append(("operator list", listed.text))
    assert channel_id in listed.text  # the crawl searched real answers
    resolved = await client.post(
        "/v1/operator/reports/resolve",
        json=_target(channel_id, post_id) | {"resolution": "actioned"},
        headers=OPERATOR,
    )
    assert resolved.json()["count"] == len(canaries)
    documents.append(("resolution", resolved.text))
    # The channel's admins are not told: nothing they read mentions a report, and the
    # audit logs (the owner's and the operators') record no resolution.
    c = f"/v1/channels/{channel_id}"
    for path in (c, f"{c}/audit", f"{c}/insights"):
        seen = expect(await client.get(path, headers=auth(owner)), 200)
        assert "report" not in str(seen).lower(), (path, seen)
    audit = await client.get(
        "/v1/operator/audit", params={"channel_id": channel_id}, headers=OPERATOR
    )
    assert "report" not in expect(audit, 200).__str__().lower()
    documents.append(("operator audit", audit.text))
    async with httpx.AsyncClient(timeout=10) as http:
        for process in (publisher, feed):
            documents.append(
                (f"{process.name} metrics", (await http.get(f"{process.ops_url}/metrics")).text)
            )
    await asyncio.sleep(0.5)  # let buffered log lines reach their files
    for process in (publisher, feed):
        log = process.log_text()
        assert log
        documents.append((f"{process.name} log", log))
    stored = await db.fetch(
        """SELECT r::text AS t FROM reports r WHERE channel_id = $1
           UNION ALL SELECT e::text FROM report_evidence e WHERE channel_id = $1
           UNION ALL SELECT s::text FROM report_resolutions s WHERE channel_id = $1""",
        uuid.UUID(channel_id),
    )
    assert len(stored) >= len(canaries) + 1
    documents += [("stored row", row["t"]) for row in stored]
    leaks = [(where, canary) for where, text in documents for canary in canaries if canary in text]
    assert leaks == []


async def test_evidence_goes_when_the_post_would_have_expired(
    client: httpx.AsyncClient, fd: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    owner = _account("own")
    channel_id = await create_channel(client, owner)
    post_id = await _visible_post(client, fd, channel_id, owner, "expires with its post")
    target = _target(channel_id, post_id)
    expect(
        await fd.post("/v1/reports", json=target | {"reason": "spam"}, headers=auth(_account())),
        202,
    )
    pid = uuid.UUID(post_id)
    expires_at = await db.fetchval("SELECT expires_at FROM report_evidence WHERE post_id = $1", pid)
    assert expires_at == await db.fetchval("SELECT expires_at FROM posts WHERE post_id = $1", pid)
    # A retention run before the post's expiry keeps it; one after deletes it, while the
    # unresolved report itself stays open for operators.
    await purge_reports(db, expires_at - timedelta(seconds=1), 1000)
    assert await db.fetchval("SELECT count(*) FROM report_evidence WHERE post_id = $1", pid) == 1
    await purge_reports(db, expires_at, 1000)
    assert await db.fetchval("SELECT count(*) FROM report_evidence WHERE post_id = $1", pid) == 0
    [item] = await _open_targets(client, {channel_id})
    assert item["count"] == 1 and item.get("evidence") is None
