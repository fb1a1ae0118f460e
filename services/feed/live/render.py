"""Turning post rows and live events into SSE items: each rendered once, to the exact
bytes every stream gets on the wire.

Event names a client handles: `post` (upsert by post_id: full current state, also after
an edit), `post_deleted`, `counters` (aggregates only), `history_trimmed` (every post
with seq <= up_to_seq has expired), `resync` (too much was missed: refetch /updates and
history). No event carries an account id or a post's author.

Only post changes carry an `id:` (the change's own, see `live.ids`), so one rendering
serves every stream. A stream's starting position is sent once, at the start, as an
id-only block (`PREAMBLE`): an EventSource keeps the last id it saw, so `Last-Event-ID`
always names a place to resume from that skips no post change, even for a client that
saw only counters. Responses use HTTP/1.1 chunked transfer coding (the server chose it
when the response started), so every item is rendered as one complete chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.feed.live.ids import EventId
from shared.events.live import CountersChangedV1, HistoryTrimmedV1


@dataclass(slots=True, frozen=True)
class Item:
    """One rendered event: `wire` is what a stream writes; `event_id` is set for post
    changes (the hub uses it to skip a change a replay has just sent)."""

    event: str
    wire: bytes
    event_id: EventId | None = None


def chunk(frame: bytes) -> bytes:
    """`frame` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(frame), frame)


def _item(event: str, data: dict[str, Any], event_id: EventId | None = None) -> Item:
    head = b"id: %s\n" % str(event_id).encode() if event_id is not None else b""
    frame = b"%sevent: %s\ndata: %s\n\n" % (head, event.encode(), orjson.dumps(data))
    return Item(event, chunk(frame), event_id)


def post_item(row: asyncpg.Record) -> Item:
    event_id = EventId(row["changed_at"], row["post_id"])
    base = {"channel_id": str(row["channel_id"]), "post_id": str(row["post_id"]), "seq": row["seq"]}
    if row["status"] != "published":
        return _item("post_deleted", base, event_id)
    return _item(
        "post",
        {
            **base,
            "body": row["body"],
            "created_at": row["created_at"].isoformat(),
            "edited_at": row["edited_at"].isoformat() if row["edited_at"] else None,
            "expires_at": row["expires_at"].isoformat(),
        },
        event_id,
    )


def counters_item(payload: CountersChangedV1) -> Item:
    return _item("counters", payload.model_dump(mode="json"))


def trimmed_item(payload: HistoryTrimmedV1) -> Item:
    return _item("history_trimmed", payload.model_dump(mode="json"))


def resync_item(position: EventId) -> Item:
    """Too much was missed; the id is where a later reconnect resumes from."""
    return _item("resync", {}, position)


def preamble(position: EventId) -> bytes:
    """The first bytes of a stream: reconnect delay (ms) and the starting position."""
    return chunk(b"retry: 3000\nid: %s\n\n" % str(position).encode())


HEARTBEAT = chunk(b": keep-alive\n\n")
# The last chunk of a chunked body: the stream ends cleanly (at server shutdown).
END_OF_BODY = b"0\r\n\r\n"
