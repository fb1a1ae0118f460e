"""What flows through the batch consumer: decoded records, poison, a handler's outcome.

`decode` turns one consumed message into a `Record` (an event the topic's registry
knows) or a `Poison` (anything else, with the reason, bound for the DLQ). A `Handler`
applies a batch of records in one transaction and answers an `Outcome`: the records it
rejected (→ DLQ) and an optional step to run once the transaction committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from shared.events.envelope import Event, EventRegistry, PoisonMessage


@dataclass(frozen=True)
class Record:
    """A decoded event and where it came from."""

    event: Event
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class Poison:
    """A record bound for the DLQ, with the reason. `error` never quotes the record's
    content: the DLQ keeps the original bytes, the reason only says what went wrong."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error: str

    @classmethod
    def of(cls, record: Record, error: str) -> Poison:
        return cls(record.topic, record.partition, record.offset, record.key, record.value, error)


@dataclass
class Outcome:
    """What a handler reports after its transaction committed."""

    rejected: list[tuple[Record, str]] = field(default_factory=list)
    # Runs after the commit, before offsets are committed; best effort (live events).
    after_commit: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[Sequence[Record]], Awaitable[Outcome]]


def decode(
    registry: EventRegistry,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
) -> Record | Poison:
    """The message as a `Record`, or as `Poison` when no version of the registry decodes it."""
    try:
        event = registry.decode(value)
    except PoisonMessage as exc:
        return Poison(topic, partition, offset, key, value, str(exc))
    return Record(event, topic, partition, offset, key, value)
