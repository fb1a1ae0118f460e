"""Opening sealed post records (crypto-shredding): the step between decoding and planning.

`post.published` and `post.edited` version 2 carry their content sealed under a content
key that lives in `content_keys` (`shared.content.keys`). `open_batch` reads every key the
batch names in one query, on the primary, inside the batch's transaction, and opens each
sealed record once, turning it into its version 1 shape for the pure plan, with the key
that sealed it alongside (`KeyRef`), so the store can record it on the post and destroy
the key of the version it replaces.

A record whose key is gone was deleted, edited over or expired before fan-out met it
again: it is skipped and counted as unreadable, never poison. The one exception is a
publish of a post that already exists (its key was destroyed by a later edit or delete
fan-out already applied, and the record is being redelivered): that is a duplicate, as
it would be with its key. A sealed record whose key exists but which does not open
(tampered, or sealed for another post) is poison: DLQ, with a reason naming no content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

import asyncpg

from services.fanout.consumer.records import Record
from shared.content.keys import ContentKeyError, MasterKeys, load_keys
from shared.events.posts import (
    PostEdited,
    PostEditedSealed,
    PostEditedV1,
    PostPublished,
    PostPublishedSealed,
    PostPublishedV1,
)


@dataclass(frozen=True)
class KeyRef:
    """A content key's address in `content_keys`."""

    key_id: UUID
    expires_on: date


@dataclass
class Opened:
    """A batch with its sealed records opened.

    `records` are in log order, sealed ones replaced by their version 1 shape; `keys` maps
    the event id of each opened record to the key that sealed it."""

    records: list[Record] = field(default_factory=list)
    keys: dict[UUID, KeyRef] = field(default_factory=dict)
    unreadable: int = 0
    rejected: list[tuple[Record, str]] = field(default_factory=list)


def sealed_keys(records: Sequence[Record]) -> list[tuple[UUID, date]]:
    """(key_id, expires_on) of every sealed record, each once: what to load."""
    wanted: dict[UUID, date] = {}
    for record in records:
        event = record.event
        if isinstance(event, PostPublishedSealed | PostEditedSealed):
            wanted[event.payload.key_id] = event.payload.key_expires_on
    return list(wanted.items())


def opened_event(
    event: PostPublishedSealed | PostEditedSealed, key: bytes
) -> PostPublished | PostEdited:
    """The version 1 shape of a sealed record opened with `key`; raises ContentKeyError
    when it does not open."""
    if isinstance(event, PostPublishedSealed):
        p = event.payload
        return PostPublished(
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            request_id=event.request_id,
            payload=PostPublishedV1(
                channel_id=p.channel_id,
                post_id=p.post_id,
                author_id=p.author_id,
                body=p.open(key),
                created_at=p.created_at,
                silent=p.silent,
                priority=p.priority,
            ),
        )
    e = event.payload
    content = e.open(key)
    return PostEdited(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        request_id=event.request_id,
        payload=PostEditedV1(
            channel_id=e.channel_id,
            post_id=e.post_id,
            text=content.text,
            caption=content.caption,
            edited_at=e.edited_at,
        ),
    )


def open_records(records: Sequence[Record], keys: dict[UUID, bytes], existing: set[UUID]) -> Opened:
    """Pure: open each sealed record with its loaded key (see the module docstring)."""
    out = Opened()
    for record in records:
        event = record.event
        if not isinstance(event, PostPublishedSealed | PostEditedSealed):
            out.records.append(record)
            continue
        sealed = event.payload
        key = keys.get(sealed.key_id)
        if key is None:
            if isinstance(event, PostPublishedSealed) and sealed.post_id in existing:
                # A redelivered publish: the plan counts it as the duplicate it is, unopened.
                out.records.append(record)
            else:
                out.unreadable += 1
            continue
        try:
            opened = opened_event(event, key)
        except ContentKeyError as exc:
            out.rejected.append((record, str(exc)))
            continue
        out.records.append(replace(record, event=opened))
        out.keys[event.event_id] = KeyRef(sealed.key_id, sealed.key_expires_on)
    return out


async def open_batch(
    conn: asyncpg.Connection, masters: MasterKeys, records: Sequence[Record], existing: set[UUID]
) -> Opened:
    """Load the batch's keys (one query) and open its sealed records."""
    wanted = sealed_keys(records)
    keys = await load_keys(conn, masters, wanted) if wanted else {}
    return open_records(records, keys, existing)
