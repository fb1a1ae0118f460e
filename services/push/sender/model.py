"""The sender's vocabulary: what a push goes to, and how a send ended."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


@dataclass(frozen=True)
class Subscription:
    """One browser or UnifiedPush distributor endpoint, as the feed stored it.

    `p256dh` is the user agent's 65-byte uncompressed P-256 point and `auth` its 16-byte
    authentication secret (RFC 8291 §2)."""

    subscription_id: UUID
    endpoint: str
    p256dh: bytes
    auth: bytes


class Outcome(StrEnum):
    """How one `PushSender.send` ended; the caller acts on it.

    DELIVERED: the push service accepted the message (201/202).
    GONE: 404/410, the subscription is dead and its row should be deleted.
    TOO_LARGE: the payload does not fit one record, or the push service answered 413.
    REFUSED: the endpoint is not allowed (scheme, address after resolution); nothing sent.
    FAILED: anything else once retries are spent or not worth it (timeouts, 5xx, 429,
    other 4xx, a redirect, an open circuit breaker, bad subscription keys).
    """

    DELIVERED = "delivered"
    GONE = "gone"
    TOO_LARGE = "too_large"
    REFUSED = "refused"
    FAILED = "failed"
