"""Discovery: the directory finds active channels by words (also while typing), filters by
country and category, sorts popular/new/active with stable cursors; the public card shows
what anyone may see and nothing about admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tests.integration.feed.builder import create_channel, unique_handle


async def _stats(db: asyncpg.Pool, channel_id: object, followers: int, posts_7d: int) -> None:
    await db.execute(
        "INSERT INTO channel_stats (channel_id, followers, posts_7d) VALUES ($1, $2, $3)",
        channel_id,
        followers,
        posts_7d,
    )


async def test_search_filters_sorts_and_pages(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    word = f"zebra{unique_handle('')[1:7]}"
    base = datetime.now(UTC) - timedelta(days=1)
    big = await create_channel(
        db, name=f"{word} Times", country="KE", category="news", created_at=base
    )
    small = await create_channel(
        db,
        name="Daily",
        description=f"all about {word} crossings",
        country="KE",
        category="news",
        created_at=base + timedelta(hours=2),
    )
    busy = await create_channel(
        db,
        name=f"{word} Sports",
        country="KE",
        category="sports",
        created_at=base + timedelta(hours=1),
    )
    gone = await create_channel(db, name=f"{word} Gone", country="KE", status="deleted")
    await _stats(db, big, 500, 1)
    await _stats(db, small, 10, 3)
    await _stats(db, busy, 40, 90)

    async def ids(**params: str | int) -> list[str]:
        response = await client.get("/v1/directory", params=params)
        assert response.status_code == 200, response.text
        return [c["channel_id"] for c in response.json()["items"]]

    # Prefix matching: a half-typed word finds all three, never the deleted one.
    found = await ids(q=word[:-2], sort="popular")
    assert found == [str(big), str(busy), str(small)]
    assert str(gone) not in found
    assert await ids(q=word, sort="new") == [str(small), str(busy), str(big)]
    assert await ids(q=word, sort="active") == [str(busy), str(small), str(big)]
    assert await ids(q=word, category="sports") == [str(busy)]
    assert await ids(q=word, country="ke", category="news", sort="popular") == [
        str(big),
        str(small),
    ]
    assert await ids(q=word, country="BR") == []
    # Relevance (the default with q): the name (weight A) outranks the description (B).
    relevance = await ids(q=word)
    assert relevance.index(str(small)) == 2

    # Keyset pages: one at a time, all of them, each once, in order.
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, str | int] = {"q": word, "sort": "popular", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/directory", params=params)).json()
        seen += [c["channel_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:3] == [str(big), str(busy), str(small)]


async def test_bad_directory_input_is_a_problem(client: httpx.AsyncClient) -> None:
    for params in (
        {"cursor": "garbage!"},
        {"cursor": "WyJwb3B1bGFyIiwieCIsInkiXQ"},
    ):
        response = await client.get("/v1/directory", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
    invalid: list[dict[str, str | int]] = [
        {"limit": 10000},
        {"sort": "weird"},
        {"country": "FRA"},
        {"category": "x"},
    ]
    for bad in invalid:
        response = await client.get("/v1/directory", params=bad)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_public_card_by_id_and_handle(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    handle = unique_handle("card")
    channel_id = await create_channel(
        db, handle=handle, name="Health Agency", description="Official", category="health"
    )
    await db.execute(
        "INSERT INTO channel_admins (channel_id, account_id, role) "
        "VALUES ($1, 'owner-77', 'owner')",
        channel_id,
    )
    await _stats(db, channel_id, 1234, 0)
    by_id = await client.get(f"/v1/channels/{channel_id}")
    by_handle = await client.get(f"/v1/channels/{handle.upper()}")
    assert by_id.status_code == by_handle.status_code == 200
    card = by_id.json()
    assert card == by_handle.json()
    assert card["followers"] == 1234
    assert card["handle"] == handle and card["category"] == "health"
    assert "owner-77" not in by_id.text
    assert (await client.get("/v1/channels/no_such_handle")).status_code == 404
    deleted = await create_channel(db, status="deleted")
    assert (await client.get(f"/v1/channels/{deleted}")).status_code == 404
