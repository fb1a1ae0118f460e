"""Opaque keyset cursors: base64url of a small JSON array naming the sort and its key.

A cursor is the sort key of the last item of a page; the next page starts strictly after
it. Clients must treat it as opaque. Anything that does not decode to the expected shape
for the requested listing is a 400 `invalid-cursor` problem, never a 500.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from shared.http.problems import Problem

# A cursor is a handful of scalars; anything longer is not one of ours.
MAX_CURSOR_CHARS = 256


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
            return parsed
        if wanted is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if wanted is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    except ValueError:
        pass
    raise _invalid()
