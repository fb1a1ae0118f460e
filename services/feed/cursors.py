"""Opaque keyset cursors: base64url of a small JSON array naming the sort and its key.

A cursor is the sort key of the last item of a page; the next page starts strictly after
it. Clients must treat it as opaque. Anything that does not decode to the expected shape
for the requested listing is a 400 `invalid-cursor` problem, never a 500 — and a crafted
cursor is as likely as one we issued, so every decoded part is also checked against what
the query can bind: integers fit a Postgres bigint, floats a Postgres real (the one float
key, `ts_rank`), timestamps are aware and still inside years 1-9999 once moved to UTC.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from shared.http.problems import Problem

# A cursor is a handful of scalars; anything longer is not one of ours.
MAX_CURSOR_CHARS = 256
# What a cursor's key can be bound as: bigint, and the largest finite Postgres real.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
REAL_MAX = 3.4028234663852886e38


def encode(kind: str, *parts: Any) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    raw = orjson.dumps([kind, *(plain(p) for p in parts)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> Problem:
    return Problem(400, "cursor is not valid for this listing", type_="invalid-cursor")


def decode(cursor: str, kind: str, types: Sequence[type]) -> list[Any]:
    """The key parts of `cursor`, converted to `types`; raises the 400 problem otherwise."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if not isinstance(data, list) or len(data) != len(types) + 1 or data[0] != kind:
        raise _invalid()
    parts: list[Any] = []
    for value, wanted in zip(data[1:], types, strict=True):
        parts.append(_convert(value, wanted))
    return parts


def _convert(value: Any, wanted: type) -> Any:
    try:
        if wanted is UUID and isinstance(value, str):
            return UUID(value)
        if wanted is datetime and isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("naive datetime")
            # Year 1 at +14:00 or 9999 at -14:00 lies outside what a datetime can hold
            # in UTC, where the database driver would move it (OverflowError).
            return parsed.astimezone(UTC)
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if wanted is int and is_int and INT_MIN <= value <= INT_MAX:
            return value
        if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            # NaN fails the comparison too.
            if -REAL_MAX <= number <= REAL_MAX:
                return number
    except (ValueError, OverflowError):
        pass
    raise _invalid()
