"""Every committed example event, run through what fan-out does with it: a post event
through `plan_posts`, an interaction through `touched_keys`. The plan must reflect the
event (the published post planned as a new post with the channel's next seq, the edit,
the delete, the touched (post, account) key), not merely not raise. Examples of topics
fan-out does not consume must be poison to its registries (→ DLQ), never applied."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.fanout.consumer.records import Record
from services.fanout.counters.handler import touched_keys
from services.fanout.posts.opening import KeyRef, open_records
from services.fanout.posts.plan import ChannelState, plan_posts
from shared.events import INTERACTION_EVENTS, POST_EVENTS, PoisonMessage
from shared.events.envelope import Event
from shared.events.interactions import FollowChanged, PostViewed, ReactionChanged, VoteChanged
from shared.events.posts import (
    ChannelDeleted,
    PostDeleted,
    PostEdited,
    PostEditedSealed,
    PostPublished,
    PostPublishedSealed,
)
from tests.integration.fanout.helpers import published
from tests.unit.content.test_sealed_examples import example_key

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "events" / "examples"
LAST_SEQ = 41


def examples(topic: str) -> list[Path]:
    return sorted((EXAMPLES / topic).glob("*.json"))


def record(event: Event, offset: int = 0) -> Record:
    key = str(event.payload.channel_id).encode()
    return Record(event, "herald.posts.v1", 0, offset, key, event.encode())


def test_the_consumed_topics_have_examples() -> None:
    assert examples("posts") and examples("interactions")


@pytest.mark.parametrize("path", examples("posts"), ids=lambda p: p.name)
def test_a_post_example_plans_what_it_says(path: Path) -> None:
    event = POST_EVENTS.decode(path.read_bytes())
    p = event.payload
    channels = {p.channel_id: ChannelState("active", LAST_SEQ, 30)}
    now = event.occurred_at + timedelta(minutes=1)
    if isinstance(event, PostPublished):
        plan = plan_posts([record(event)], channels, set(), now)
        (new,) = plan.new_posts
        assert (new.channel_id, new.post_id, new.seq) == (p.channel_id, p.post_id, LAST_SEQ + 1)
        assert new.created_at == p.created_at
        assert new.expires_at == p.created_at + timedelta(days=30)
        assert new.body == p.body.model_dump(mode="json")
        assert plan.channel_heads == {p.channel_id: (LAST_SEQ + 1, p.created_at)}
        assert not plan.rejected and not plan.edits and not plan.deletes
        # Replayed, it is a duplicate and plans nothing.
        again = plan_posts([record(event)], channels, {p.post_id}, now)
        assert again.new_posts == [] and again.duplicates == 1
    elif isinstance(event, PostEdited):
        plan = plan_posts([record(event)], channels, set(), now)
        (edit,) = plan.edits
        assert (edit.channel_id, edit.post_id) == (p.channel_id, p.post_id)
        assert (edit.text, edit.caption, edit.edited_at) == (p.text, p.caption, p.edited_at)
        assert not plan.new_posts and not plan.deletes and not plan.rejected
    elif isinstance(event, PostPublishedSealed | PostEditedSealed):
        key = {p.key_id: example_key(p.key_id)}
        opened = open_records([record(event)], key, set())
        (clear,) = opened.records
        assert opened.keys == {event.event_id: KeyRef(p.key_id, p.key_expires_on)}
        plan = plan_posts(opened.records, channels, set(), now, opened.keys)
        assert not plan.rejected
        if isinstance(event, PostPublishedSealed):
            (new,) = plan.new_posts
            assert (new.post_id, new.seq) == (p.post_id, LAST_SEQ + 1)
            assert new.body == clear.event.payload.body.model_dump(mode="json")
            assert new.body["caption"] == "Match day: kick-off at 15:00"
            assert new.key == KeyRef(p.key_id, p.key_expires_on)
            # Its key destroyed: a redelivery of an existing post is a duplicate, of a post
            # never persisted unreadable (skipped, counted), never poison.
            redelivered = open_records([record(event)], {}, {p.post_id})
            replan = plan_posts(redelivered.records, channels, {p.post_id}, now)
            assert replan.duplicates == 1 and redelivered.unreadable == 0
        else:
            (edit,) = plan.edits
            assert (edit.post_id, edit.caption) == (p.post_id, "Kick-off moved to 15:30")
            assert edit.key == KeyRef(p.key_id, p.key_expires_on)
        gone = open_records([record(event)], {}, set())
        assert gone.records == [] and gone.unreadable == 1 and not gone.rejected
    elif isinstance(event, PostDeleted):
        plan = plan_posts([record(event)], channels, set(), now)
        assert [(d.channel_id, d.post_id) for d in plan.deletes] == [(p.channel_id, p.post_id)]
        assert not plan.new_posts and not plan.edits and not plan.rejected
    elif isinstance(event, ChannelDeleted):
        after = published(p.channel_id)
        plan = plan_posts([record(event, 0), record(after, 1)], channels, set(), now)
        # The channel is closed: what follows it in the log is rejected, not planned.
        assert plan.new_posts == []
        assert [r.event for r, _ in plan.rejected] == [after]
    else:
        pytest.fail(f"no expectation for {path.name}: add one for the new event type")


@pytest.mark.parametrize("path", examples("interactions"), ids=lambda p: p.name)
def test_an_interaction_example_touches_its_key(path: Path) -> None:
    event = INTERACTION_EVENTS.decode(path.read_bytes())
    p = event.payload
    touched = touched_keys([record(event)])
    keys: dict[str, dict[Any, None]] = {
        "reactions": touched.reactions,
        "votes": touched.votes,
        "views": touched.views,
        "follows": touched.follows,
    }
    expected: tuple[str, tuple[object, ...]]
    if isinstance(event, ReactionChanged):
        expected = ("reactions", (p.post_id, p.account_id))
    elif isinstance(event, VoteChanged):
        expected = ("votes", (p.post_id, p.account_id))
    elif isinstance(event, PostViewed):
        expected = ("views", (p.post_id, p.channel_id, p.account_id))
    elif isinstance(event, FollowChanged):
        expected = ("follows", (p.account_id, p.channel_id))
    else:
        pytest.fail(f"no expectation for {path.name}: add one for the new event type")
    kind, key = expected
    assert {k: list(v) for k, v in keys.items() if v} == {kind: [key]}
    assert touched.oldest == event.occurred_at


@pytest.mark.parametrize("path", examples("live") + examples("dlq"), ids=lambda p: p.name)
def test_an_example_of_a_topic_fanout_does_not_consume_is_poison_to_it(path: Path) -> None:
    for registry in (POST_EVENTS, INTERACTION_EVENTS):
        with pytest.raises(PoisonMessage, match="unknown event"):
            registry.decode(path.read_bytes())
