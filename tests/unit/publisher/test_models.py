"""Request validation of the publisher's API models (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from uuid6 import uuid7

from services.publisher.models import ChannelCreate, ChannelSettings, PostCreate, PostUpdate
from services.publisher.publishing import request_hash, uuid7_time

BASE = {
    "handle": "Health_KE",
    "name": "Health",
    "category": "health",
    "country": "ke",
    "language": "pt-BR",
}


def test_channel_normalises_handle_and_country() -> None:
    channel = ChannelCreate.model_validate(BASE)
    assert (channel.handle, channel.country) == ("health_ke", "KE")
    assert channel.settings.retention_days == 30


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👍🏽", "🇰🇪", "👨‍👩‍👧", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"])
def test_real_emoji_are_allowed(emoji: str) -> None:
    ChannelSettings(reactions="limited", allowed_reactions=[emoji])


@pytest.mark.parametrize("value", ["a", ":)", "👍a", "", " ", "<b>"])
def test_non_emoji_are_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        ChannelSettings(reactions="limited", allowed_reactions=[value])


@pytest.mark.parametrize(
    "body",
    [
        {"type": "text"},
        {"type": "text", "text": "x", "caption": "c"},
        {"type": "photo"},
        {"type": "photo", "media_id": str(uuid.uuid4()), "text": "x"},
        {"type": "poll", "poll": {"question": "q", "options": ["a"]}},
        {"type": "poll", "poll": {"question": "q", "options": ["a", "b"], "extra": 1}},
        {"type": "sticker", "media_id": str(uuid.uuid4()), "poll": None, "x": 1},
    ],
)
def test_post_fields_must_match_type(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PostCreate.model_validate(body)


def test_post_update_needs_exactly_one_field() -> None:
    PostUpdate(text="x")
    with pytest.raises(ValidationError):
        PostUpdate()
    with pytest.raises(ValidationError):
        PostUpdate(text="x", caption="y")


def test_post_time_is_the_uuid7_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    post_id = uuid.UUID(bytes=uuid7().bytes)
    assert before <= uuid7_time(post_id) <= datetime.now(UTC)


def test_request_hash_ignores_key_order() -> None:
    a = PostCreate.model_validate({"type": "text", "text": "x"})
    b = PostCreate.model_validate({"text": "x", "type": "text"})
    assert request_hash(a) == request_hash(b)
    assert request_hash(a) != request_hash(PostCreate.model_validate({"type": "text", "text": "y"}))
