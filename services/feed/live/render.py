"""Turning post rows and live events into SSE items, and items into SSE frames.

Event names a client handles: `post` (upsert by post_id: full current state, also after
an edit), `post_deleted`, `counters` (aggregates only), `history_trimmed` (every post
with seq <= up_to_seq has expired), `resync` (too much was missed: refetch /updates and
history). No event carries an account id or a post's author.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from services.feed.live.hub import Item
from services.feed.live.ids import EventId
from shared.events.live import CountersChangedV1, HistoryTrimmedV1


def _json(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data)


def post_item(row: asyncpg.Record) -> Item:
    event_id = EventId(row["changed_at"], row["post_id"])
    base = {"channel_id": str(row["channel_id"]), "post_id": str(row["post_id"]), "seq": row["seq"]}
    if row["status"] != "published":
        return Item("post_deleted", _json(base), event_id)
    return Item(
        "post",
        _json(
            {
                **base,
                "body": row["body"],
                "created_at": row["created_at"].isoformat(),
                "edited_at": row["edited_at"].isoformat() if row["edited_at"] else None,
                "expires_at": row["expires_at"].isoformat(),
            }
        ),
        event_id,
    )


def counters_item(payload: CountersChangedV1) -> Item:
    return Item("counters", _json(payload.model_dump(mode="json")))


def trimmed_item(payload: HistoryTrimmedV1) -> Item:
    return Item("history_trimmed", _json(payload.model_dump(mode="json")))


RESYNC = Item("resync", b"{}")


def frame(item: Item, position: EventId) -> bytes:
    """The SSE frame; `position` is the id of items that are not a post change."""
    event_id = item.event_id or position
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        str(event_id).encode(),
        item.event.encode(),
        item.data,
    )


HEARTBEAT = b": keep-alive\n\n"
# Tells EventSource how long to wait before reconnecting (ms).
PREAMBLE = b"retry: 3000\n\n"
