"""The Idempotency-Key election in Postgres, including a winner whose produce failed:
the next request takes the key over with the SAME post_id, while requests that were
waiting on the failed one report the failure instead of retrying in a cascade."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.publisher.store import posts as store


async def _channel(db: asyncpg.Pool) -> uuid.UUID:
    channel_id = uuid.uuid4()
    await db.execute(
        """
        INSERT INTO channels (channel_id, handle, name, category, country, language)
        VALUES ($1, $2, 'Claims', 'news', 'KE', 'en')
        """,
        channel_id,
        f"claim_{uuid.uuid4().hex[:10]}",
    )
    return channel_id


async def _claim(db: asyncpg.Pool, channel_id: uuid.UUID, request_hash: str = "h") -> store.Claim:
    async with db.acquire() as conn, conn.transaction():
        return await store.claim(conn, channel_id, "key", request_hash, uuid.uuid4())


async def _set(db: asyncpg.Pool, channel_id: uuid.UUID, state: str) -> None:
    async with db.acquire() as conn:
        await store.set_request_state(conn, channel_id, "key", state)


async def test_failed_winner_is_taken_over_with_the_same_post_id(db: asyncpg.Pool) -> None:
    channel_id = await _channel(db)
    first = await _claim(db, channel_id)
    assert first.produce
    await _set(db, channel_id, "failed")

    retry = await _claim(db, channel_id)
    assert retry == store.Claim(first.post_id, produce=True)
    await _set(db, channel_id, "accepted")

    replay = await _claim(db, channel_id)
    assert replay == store.Claim(first.post_id, produce=False)
    with pytest.raises(store.KeyReused):
        await _claim(db, channel_id, request_hash="other")


async def _until_one_waits_for_a_lock(db: asyncpg.Pool) -> None:
    for _ in range(200):
        waiting = await db.fetchval(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
            """
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the identical request never waited for the winner")


async def test_waiters_on_a_failing_winner_report_the_failure(db: asyncpg.Pool) -> None:
    channel_id = await _channel(db)
    async with db.acquire() as winner:
        transaction = winner.transaction()
        await transaction.start()
        claim = await store.claim(winner, channel_id, "key", "h", uuid.uuid4())
        assert claim.produce
        # An identical request now blocks inside its INSERT until the winner finishes.
        waiter = asyncio.create_task(_claim(db, channel_id))
        await _until_one_waits_for_a_lock(db)
        assert not waiter.done()
        await store.set_request_state(winner, channel_id, "key", "failed")
        await transaction.commit()
    with pytest.raises(store.ConcurrentFailure):
        await waiter
