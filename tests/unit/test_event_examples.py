"""Every event version has an example message, and its topic's registry accepts it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from shared.events import DLQ_EVENTS, INTERACTION_EVENTS, LIVE_EVENTS, POST_EVENTS, PoisonMessage
from shared.events.envelope import MAX_EVENT_BYTES, EventRegistry
from shared.events.push import PUSH_EVENTS

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "events" / "examples"
REGISTRIES: dict[str, EventRegistry] = {
    "posts": POST_EVENTS,
    "interactions": INTERACTION_EVENTS,
    "live": LIVE_EVENTS,
    "dlq": DLQ_EVENTS,
    "push": PUSH_EVENTS,
}


@pytest.mark.parametrize("topic", sorted(REGISTRIES))
def test_every_event_version_has_an_example_that_decodes(topic: str) -> None:
    registry = REGISTRIES[topic]
    for event_type in registry.event_types:
        path = EXAMPLES / topic / f"{event_type.TYPE}.v{event_type.VERSION}.json"
        assert path.exists(), f"missing example {path.name}"
        raw = path.read_bytes()
        event = registry.decode(raw)
        assert type(event) is event_type
        # Re-encoding is lossless: a consumer can forward what it decoded.
        assert orjson.loads(event.encode()) == orjson.loads(raw)


def test_unknown_fields_are_tolerated_for_additive_evolution() -> None:
    raw = orjson.loads((EXAMPLES / "interactions" / "follow.changed.v1.json").read_bytes())
    raw["payload"]["added_later"] = True
    raw["added_to_envelope"] = 1
    event = INTERACTION_EVENTS.decode(orjson.dumps(raw))
    assert event.TYPE == "follow.changed"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "post.published", "version": 99, "payload": {}}', "unknown event"),
        (b'{"type": "post.published", "version": 1, "payload": {"channel_id": "x"}}', "invalid"),
        (None, "empty"),
        (b" " * (MAX_EVENT_BYTES + 1), "exceeds"),
    ],
)
def test_poison_messages_are_recognised(raw: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonMessage, match=reason):
        POST_EVENTS.decode(raw)


def test_an_event_of_another_topic_is_poison_here() -> None:
    raw = (EXAMPLES / "live" / "live.post_visible.v1.json").read_bytes()
    with pytest.raises(PoisonMessage, match="unknown event"):
        POST_EVENTS.decode(raw)


def test_an_event_made_while_handling_a_request_carries_its_id() -> None:
    from uuid import uuid4

    from shared.events.interactions import FollowChanged, FollowChangedV1
    from shared.logs import request_id_var

    payload = FollowChangedV1(channel_id=uuid4(), account_id="acct-1")
    assert FollowChanged(payload=payload).request_id is None
    token = request_id_var.set("req-42")
    try:
        assert FollowChanged(payload=payload).request_id == "req-42"
    finally:
        request_id_var.reset(token)
