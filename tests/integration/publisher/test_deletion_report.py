"""Deletion reports on the real publisher: the owner asks per post or per day, an operator
per channel; everyone else learns nothing. The ledger rows are written here as fan-out and
retention write them (their own tests cover the writing; the end-to-end proof is
tests/integration/retention/test_provable_deletion.py)."""

from __future__ import annotations

import uuid
from datetime import date
from uuid import UUID

import asyncpg
import httpx

from tests.integration.publisher.conftest import Channel, account, create_channel
from tests.support.tokens import auth, operator_auth

FIELDS = {"rows_dropped", "partitions_dropped", "media_removed", "keys_destroyed", "at"}
DAY = date(2026, 3, 14)


async def record(db: asyncpg.Pool, channel: Channel) -> UUID:
    """A delete for everyone (fan-out's call) and an expired day (retention's row)."""
    post_id = uuid.uuid4()
    channel_id = UUID(channel.channel_id)
    await db.execute(
        "SELECT herald_ledger_post_deleted($1, $2, $3, $4)",
        [channel_id],
        [post_id],
        [1],
        [2],
    )
    await db.execute(
        """INSERT INTO deletion_ledger (channel_id, day, rows_dropped, partitions_dropped,
                                        media_removed, keys_destroyed)
           VALUES ($1, $2, 40, 3, 2, 10)""",
        channel_id,
        DAY,
    )
    return post_id


def counts(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == FIELDS
    return {k: v for k, v in body.items() if k != "at"}


async def test_owner_reads_a_post_and_a_day(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    channel = await create_channel(client)
    post_id = await record(db, channel)
    url, owner = channel.url("/deletion-report"), auth(channel.owner)

    by_post = await client.get(url, params={"post_id": str(post_id)}, headers=owner)
    assert counts(by_post) == {
        "rows_dropped": 1,
        "partitions_dropped": 0,
        "media_removed": 0,
        "keys_destroyed": 2,
    }
    by_day = await client.get(url, params={"day": DAY.isoformat()}, headers=owner)
    assert counts(by_day) == {
        "rows_dropped": 40,
        "partitions_dropped": 3,
        "media_removed": 2,
        "keys_destroyed": 10,
    }
    # Recording the same delete again (a redelivered event) changes nothing.
    await db.execute(
        "SELECT herald_ledger_post_deleted($1, $2, $3, $4)",
        [UUID(channel.channel_id)],
        [post_id],
        [5],
        [5],
    )
    again = await client.get(url, params={"post_id": str(post_id)}, headers=owner)
    assert counts(again)["keys_destroyed"] == 2

    for params in (
        {"post_id": str(uuid.uuid4())},
        {"day": "2026-03-15"},
    ):
        missing = await client.get(url, params=params, headers=owner)
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("not-recorded")


async def test_exactly_one_of_day_and_post_id(client: httpx.AsyncClient) -> None:
    channel = await create_channel(client)
    url, owner = channel.url("/deletion-report"), auth(channel.owner)
    for params in (
        {},
        {"day": "2026-03-14", "post_id": str(uuid.uuid4())},
        {"day": "14/03/2026"},
        {"post_id": "not-a-uuid"},
    ):
        response = await client.get(url, params=params, headers=owner)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_only_the_owner_and_operators_read_reports(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    channel = await create_channel(client)
    await record(db, channel)
    admin = account("admin")
    added = await client.put(channel.url(f"/admins/{admin}"), headers=auth(channel.owner))
    assert added.status_code in (200, 201, 204), added.text
    url, params = channel.url("/deletion-report"), {"day": DAY.isoformat()}

    assert (await client.get(url, params=params)).status_code == 401
    assert (await client.get(url, params=params, headers=auth(account()))).status_code == 404
    assert (await client.get(url, params=params, headers=auth(admin))).status_code == 403
    # An operator is a plain account on channel routes.
    operator = account("op")
    assert (
        await client.get(url, params=params, headers=operator_auth(operator))
    ).status_code == 404

    op_url = "/v1/operator/deletion-report"
    op_params = {"channel_id": channel.channel_id}
    for headers in ({}, auth(channel.owner), auth(admin)):
        assert (await client.get(op_url, params=op_params, headers=headers)).status_code == 404
    # Added up over the post and the day.
    total = await client.get(op_url, params=op_params, headers=operator_auth(operator))
    assert counts(total) == {
        "rows_dropped": 41,
        "partitions_dropped": 3,
        "media_removed": 2,
        "keys_destroyed": 12,
    }
    nothing = await client.get(
        op_url, params={"channel_id": str(uuid.uuid4())}, headers=operator_auth(operator)
    )
    assert nothing.status_code == 404
    bad = await client.get(op_url, params={"channel_id": "x"}, headers=operator_auth(operator))
    assert bad.status_code == 422
