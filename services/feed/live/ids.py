"""SSE event ids: orderable, resumable, derived from Postgres.

An id is `<posts.changed_at in µs since the epoch, 16 digits>-<post_id as 32 hex>`, so
ids sort (as strings and as tuples) in the order `(changed_at, post_id)` that the replay
query walks with the index `posts (channel_id, changed_at)`. A live event gets the id of
the post's row as it is when the event is pushed (the hub reads it), so the same change
has the same id whether it arrives live or from a replay.

Events that are not a post change (counters, history trimmed) carry no id, so one
rendering serves every stream (see `live.render`); an EventSource keeps the last id it
saw. A stream starts with an id-only block naming its position (the time it opened, or
the id it resumes from), and `resync` carries the position it sets, so `Last-Event-ID`
is always a valid place to resume from and never skips a post change.

Limit, documented: ids order changes by `changed_at`, which fan-out sets inside its
transaction; two channels' changes committed out of `changed_at` order within the live
delivery delay can, on a reconnect at exactly that moment, replay one change twice
(never lose one, since a later id always resumes after the earlier one was delivered)
— clients upsert posts by `post_id`, so a duplicate is harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from shared.http.problems import Problem

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ID = re.compile(r"^(\d{1,17})-([0-9a-f]{32})$")
ZERO_POST = UUID(int=0)


@dataclass(frozen=True, order=True, slots=True)
class EventId:
    changed_at: datetime
    post_id: UUID

    def __str__(self) -> str:
        micros = (self.changed_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros:016d}-{self.post_id.hex}"

    @classmethod
    def at(cls, when: datetime) -> EventId:
        """The position "everything up to `when`"."""
        return cls(when, ZERO_POST)

    @classmethod
    def parse(cls, raw: str) -> EventId:
        match = _ID.fullmatch(raw.strip())
        if match is None:
            raise Problem(
                400, "Last-Event-ID is not an id of this stream", type_="invalid-event-id"
            )
        micros, post_hex = match.groups()
        return cls(_EPOCH + timedelta(microseconds=int(micros)), UUID(hex=post_hex))
