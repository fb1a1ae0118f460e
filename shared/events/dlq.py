"""The dead-letter record on `herald.dlq.v1` (key: the original key).

The original bytes are kept (base64, truncated past `MAX_ORIGINAL_BYTES`) with where they
came from and why they failed, so an operator can inspect and replay them.
"""

from __future__ import annotations

import base64
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Event, EventRegistry, Payload

MAX_ORIGINAL_BYTES = 64 * 1024


class DeadLetterV1(Payload):
    consumer: str = Field(max_length=64)
    error: str = Field(max_length=2048)
    source_topic: str
    partition: int
    offset: int
    original_value_b64: str
    original_bytes: int
    truncated: bool


class DeadLetter(Event):
    TYPE: ClassVar[str] = "dlq.dead_letter"
    VERSION: ClassVar[int] = 1
    type: Literal["dlq.dead_letter"] = "dlq.dead_letter"
    version: Literal[1] = 1
    payload: DeadLetterV1

    @classmethod
    def of(
        cls,
        *,
        consumer: str,
        error: str,
        source_topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
    ) -> DeadLetter:
        raw = value or b""
        return cls(
            payload=DeadLetterV1(
                consumer=consumer,
                error=error[:2048],
                source_topic=source_topic,
                partition=partition,
                offset=offset,
                original_value_b64=base64.b64encode(raw[:MAX_ORIGINAL_BYTES]).decode(),
                original_bytes=len(raw),
                truncated=len(raw) > MAX_ORIGINAL_BYTES,
            )
        )


DLQ_EVENTS = EventRegistry([DeadLetter])
