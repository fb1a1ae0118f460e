"""The `live.history_trimmed` outbox: which channels lost posts, told to connected clients.

Every transaction that deletes posts records, per channel, the highest `seq` it removed
(`record_trims`, in the caller's transaction). `emit_trims` later sends one
`LiveHistoryTrimmed {channel_id, up_to_seq}` per channel to the live topic (key
channel_id) and clears a row only after the broker acknowledged it, and only if no later
delete raised its `up_to_seq` meanwhile. A kill between delete and send loses nothing: the
next run sends what is left. Clients treat the event as "drop every post of the channel
with seq <= up_to_seq", so a repeated event is harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from uuid import UUID

import asyncpg

from shared.events.live import HistoryTrimmedV1, LiveHistoryTrimmed
from shared.kafka import produce
from shared.metrics.retention import HISTORY_TRIMMED
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import LIVE

log = logging.getLogger(__name__)

# Events in flight at once; the idempotent producer keeps per-channel order regardless.
EMIT_BATCH = 500
SERVICE = "retention"


async def record_trims(
    conn: asyncpg.Connection, channel_ids: Sequence[UUID], seqs: Sequence[int]
) -> None:
    """Remember, per channel, the highest deleted seq (caller's transaction)."""
    if not channel_ids:
        return
    await conn.execute(
        """INSERT INTO retention_trims (channel_id, up_to_seq)
           SELECT channel_id, max(seq) FROM unnest($1::uuid[], $2::bigint[]) AS t(channel_id, seq)
           GROUP BY channel_id
           ON CONFLICT (channel_id) DO UPDATE
               SET up_to_seq = GREATEST(retention_trims.up_to_seq, excluded.up_to_seq),
                   updated_at = now()""",
        list(channel_ids),
        list(seqs),
    )


async def emit_trims(pool: asyncpg.Pool, producer: ProducerHolder, settings: HeraldSettings) -> int:
    """Send every owed history_trimmed event; return how many the broker acknowledged."""
    topic = settings.topic(LIVE.name)
    sent = 0
    after = UUID(int=0)
    while True:
        rows = await pool.fetch(
            """SELECT channel_id, up_to_seq FROM retention_trims
               WHERE channel_id > $1 ORDER BY channel_id LIMIT $2""",
            after,
            EMIT_BATCH,
        )
        if not rows:
            return sent
        await asyncio.gather(
            *(
                produce(
                    producer,
                    topic,
                    str(row["channel_id"]),
                    LiveHistoryTrimmed(
                        payload=HistoryTrimmedV1(
                            channel_id=row["channel_id"], up_to_seq=row["up_to_seq"]
                        )
                    ),
                    settings.produce_timeout_s,
                    SERVICE,
                )
                for row in rows
            )
        )
        # Keep a row whose up_to_seq grew after we read it: that newer trim is still owed.
        await pool.execute(
            """DELETE FROM retention_trims t
               USING unnest($1::uuid[], $2::bigint[]) AS s(channel_id, up_to_seq)
               WHERE t.channel_id = s.channel_id AND t.up_to_seq = s.up_to_seq""",
            [row["channel_id"] for row in rows],
            [row["up_to_seq"] for row in rows],
        )
        HISTORY_TRIMMED.inc(len(rows))
        sent += len(rows)
        after = rows[-1]["channel_id"]
