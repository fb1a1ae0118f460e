"""The push a post makes: payload fields, preview, headers (services.push.payload)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson

from services.push.payload import MAX_TTL_S, PREVIEW_MAX, Push, build_push, preview, topic_of

CHANNEL = UUID("0193a1b2-0000-7000-8000-00000000c0de")
POST = UUID("0193a1b2-1111-7000-8000-000000000001")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def push_of(
    body: dict[str, object], priority: str = "normal", expires_in: timedelta = timedelta(days=30)
) -> Push | None:
    return build_push(
        channel_id=CHANNEL,
        channel_name="City news",
        post_id=POST,
        seq=42,
        body=body,
        priority=priority,
        expires_at=NOW + expires_in,
        now=NOW,
    )


def test_payload_has_exactly_the_contract_fields_and_no_account() -> None:
    push = push_of({"type": "text", "text": "Road closed on Main St."})
    assert push is not None
    assert orjson.loads(push.payload) == {
        "type": "post",
        "channel_id": str(CHANNEL),
        "channel_name": "City news",
        "post_id": str(POST),
        "seq": 42,
        "preview": "Road closed on Main St.",
        "priority": "normal",
        "expires_at": "2026-12-25T12:00:00Z",
    }


def test_normal_post_headers_replace_older_pushes_of_the_channel() -> None:
    push = push_of({"type": "text", "text": "hi"})
    assert push is not None
    assert push.urgency == "normal"
    assert push.topic == topic_of(CHANNEL)
    assert len(push.topic) == 22
    assert base64.urlsafe_b64decode(push.topic + "==") == CHANNEL.bytes
    # 30 days to expiry, but push services keep a message at most 28 days.
    assert push.ttl_s == MAX_TTL_S


def test_alert_is_urgent_and_never_replaced() -> None:
    push = push_of(
        {"type": "text", "text": "Evacuate"}, priority="alert", expires_in=timedelta(hours=1)
    )
    assert push is not None
    assert push.urgency == "high"
    assert push.topic is None
    assert push.ttl_s == 3600
    assert orjson.loads(push.payload)["priority"] == "alert"


def test_expired_post_makes_no_push() -> None:
    assert push_of({"type": "text", "text": "old"}, expires_in=timedelta(seconds=-1)) is None


def test_preview_falls_back_to_caption_then_poll_question_and_is_cut() -> None:
    assert preview({"type": "photo", "caption": "A photo"}) == "A photo"
    poll = {"question": "Who wins?", "options": ["A", "B"]}
    assert preview({"type": "poll", "poll": poll}) == "Who wins?"
    assert preview({"type": "voice", "media": {}}) == ""
    long = preview({"type": "text", "text": "word " * 100})
    assert len(long) <= PREVIEW_MAX
    assert long.endswith("…")
    assert preview({"type": "text", "text": "two\nlines"}) == "two lines"


def test_largest_payload_stays_under_the_limit() -> None:
    push = push_of({"type": "text", "text": "😀" * 4096})
    assert push is not None
    assert len(push.payload) < 3 * 1024
