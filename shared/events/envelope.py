"""The event envelope every Herald message carries, and its codec.

An event is `{event_id, type, version, occurred_at, request_id, payload}` as JSON. Each
`(type, version)` has one pydantic model; changes within a version are additive only, a
breaking change is a new version. `decode` turns any bytes into a known event or raises
`PoisonMessage`, which consumers send to the DLQ.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from uuid6 import uuid7

from shared.logs import request_id_var

# One message may carry at most this much JSON; a bigger one is poison, never parsed.
MAX_EVENT_BYTES = 256 * 1024


class PoisonMessage(Exception):
    """A message no consumer can process: malformed, unknown type/version, or invalid."""


class Payload(BaseModel):
    """Base of every payload. The fields of its version are validated; unknown fields are
    ignored (dropped), not refused: changes within a version are additive, so an event
    from a newer producer that added a field must still decode on an older consumer
    during a rolling deploy, instead of going to the DLQ."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _current_request_id() -> str | None:
    return request_id_var.get()


class Event(BaseModel):
    """Base envelope. Subclasses pin `TYPE`, `VERSION` and the payload model. Unknown
    envelope fields are ignored for the same reason as in `Payload`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int]

    event_id: UUID = Field(default_factory=uuid7)
    type: str
    version: int
    occurred_at: datetime = Field(default_factory=utcnow)
    # Follows one post from the publisher request to the fan-out and the SSE push. By
    # default the id of the request (or consumed event) being handled when it was made.
    request_id: str | None = Field(default_factory=_current_request_id, max_length=64)
    payload: Any

    def encode(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


class EventRegistry:
    """The events one topic may carry, by `(type, version)`."""

    def __init__(self, events: Iterable[type[Event]]) -> None:
        self._by_key: dict[tuple[str, int], type[Event]] = {}
        for event in events:
            self._by_key[(event.TYPE, event.VERSION)] = event

    @property
    def event_types(self) -> list[type[Event]]:
        return list(self._by_key.values())

    def decode(self, raw: bytes | None) -> Event:
        if raw is None:
            raise PoisonMessage("empty message")
        if len(raw) > MAX_EVENT_BYTES:
            raise PoisonMessage(f"message of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise PoisonMessage(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise PoisonMessage("not a JSON object")
        key = (data.get("type"), data.get("version"))
        model = self._by_key.get(key)  # type: ignore[arg-type]
        if model is None:
            raise PoisonMessage(f"unknown event type/version {key!r}")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise PoisonMessage(
                f"invalid {key[0]} v{key[1]}: {exc.error_count()} errors: "
                f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}"
            ) from None
