"""What a push says (pure): the payload JSON and its Web Push headers, built once per post.

Payload, ≤ `MAX_PAYLOAD_BYTES` before encryption:
`{"type": "post", "channel_id", "channel_name", "post_id", "seq", "preview", "priority",
"expires_at"}` — never an account id. `preview` is the post's text, else its caption,
else a poll's question, at most `PREVIEW_MAX` characters ("" for media without caption).
Headers: `TTL` = seconds until the post expires, at most 28 days; `Urgency: high` for
alerts, else `normal`; `Topic` = base64url of the channel id's 16 bytes (a newer post
replaces an older one still queued at the push service), none for alerts so that nothing
replaces them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

PREVIEW_MAX = 120
MAX_PAYLOAD_BYTES = 3 * 1024
MAX_TTL_S = 28 * 24 * 3600
ELLIPSIS = "…"


@dataclass(frozen=True)
class Push:
    """One post's push: the same bytes and headers for every subscription."""

    payload: bytes
    ttl_s: int
    urgency: str
    topic: str | None


def preview(body: dict[str, Any]) -> str:
    """The post's text, caption or poll question, cut to `PREVIEW_MAX` characters."""
    poll = body.get("poll") or {}
    text = body.get("text") or body.get("caption") or poll.get("question") or ""
    text = " ".join(str(text).split())  # one line: notifications show no line breaks
    if len(text) > PREVIEW_MAX:
        text = text[: PREVIEW_MAX - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return text


def topic_of(channel_id: UUID) -> str:
    """base64url without padding of the channel id's 16 bytes: 22 characters."""
    return base64.urlsafe_b64encode(channel_id.bytes).rstrip(b"=").decode()


def build_push(
    *,
    channel_id: UUID,
    channel_name: str,
    post_id: UUID,
    seq: int,
    body: dict[str, Any],
    priority: str,
    expires_at: datetime,
    now: datetime,
) -> Push | None:
    """The push for a visible post at time `now`; None when it has already expired."""
    ttl_s = min(MAX_TTL_S, int((expires_at - now).total_seconds()))
    if ttl_s <= 0:
        return None
    alert = priority == "alert"
    document = {
        "type": "post",
        "channel_id": str(channel_id),
        "channel_name": channel_name,
        "post_id": str(post_id),
        "seq": seq,
        "preview": preview(body),
        "priority": "alert" if alert else "normal",
        "expires_at": expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    payload = orjson.dumps(document)
    # Names ≤ 100 and previews ≤ 120 characters (≤ 4 bytes each) stay far below the
    # limit; the check guards against a future field pushing it over.
    assert len(payload) <= MAX_PAYLOAD_BYTES, len(payload)
    return Push(
        payload=payload,
        ttl_s=ttl_s,
        urgency="high" if alert else "normal",
        topic=None if alert else topic_of(channel_id),
    )
