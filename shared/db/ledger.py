"""Fan-out's entries in the deletion ledger (migration 0900): what a delete for everyone
destroyed, recorded in the transaction that applies it.

`record_post_deletions` takes the posts the transaction turned into tombstones and the
content keys it destroyed, per post, and records one ledger row per post: `rows_dropped`
1 when the post's row lost its body now (0 for a post not persisted yet, whose keys alone
went), `keys_destroyed` the keys. Idempotent (the SQL function keeps an existing row), and
a redelivered delete destroys nothing and records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import asyncpg


async def record_post_deletions(
    conn: asyncpg.Connection,
    tombstoned: Iterable[tuple[UUID, UUID]],
    keys_destroyed: Iterable[tuple[UUID, UUID, int]],
) -> None:
    """Record deletes for everyone: `tombstoned` (channel_id, post_id) and
    `keys_destroyed` (channel_id, post_id, keys). Call in the applying transaction."""
    totals: dict[tuple[UUID, UUID], list[int]] = {}
    for channel_id, post_id in tombstoned:
        totals.setdefault((channel_id, post_id), [0, 0])[0] += 1
    for channel_id, post_id, keys in keys_destroyed:
        totals.setdefault((channel_id, post_id), [0, 0])[1] += keys
    if not totals:
        return
    posts = sorted(totals)
    await conn.execute(
        "SELECT herald_ledger_post_deleted($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[])",
        [p[0] for p in posts],
        [p[1] for p in posts],
        [totals[p][0] for p in posts],
        [totals[p][1] for p in posts],
    )
