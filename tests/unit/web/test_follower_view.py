"""The follower's view of a post (services/web/routes/follower/view.py): which reactions
a post offers under each channel setting, poll counts and the caller's choice, previews."""

from __future__ import annotations

from typing import Any

from services.web.routes.follower.view import (
    COUNTED_ONLY,
    DEFAULT_PALETTE,
    PREVIEW_CHARS,
    post_of,
    preview_of,
)


def item(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "post_id": "01a23c86-747f-70f2-9e66-c2e4a23a6fa7",
        "channel_id": "01a23c86-7226-7f51-a3b3-ade35c0e769e",
        "seq": 7,
        "body": body,
        "counters": {"reactions": {}, "votes": {}, "views": 0},
        "created_at": "2026-12-03T15:00:00+00:00",
        "edited_at": None,
        "my_reaction": None,
        "my_vote": None,
        **fields,
    }


def test_limited_channels_offer_their_set_only_with_counts_and_the_callers_choice() -> None:
    post = post_of(
        item(
            {"type": "text", "text": "hi"},
            counters={"reactions": {"❤️": 3, "👍": 1}, "votes": {}, "views": 9},
            my_reaction="❤️",
        ),
        reactions="limited",
        allowed_reactions=["👍", "❤️"],
    )
    assert [(r.emoji, r.count, r.mine) for r in post.reactions] == [
        ("👍", 1, False),
        ("❤️", 3, True),
    ]
    assert post.can_react
    assert post.views == 9


def test_open_channels_offer_the_palette_and_every_counted_emoji() -> None:
    post = post_of(
        item({"type": "text", "text": "hi"}, counters={"reactions": {"🇰🇪": 2}, "votes": {}}),
        reactions="all",
        allowed_reactions=[],
    )
    assert [r.emoji for r in post.reactions] == [*DEFAULT_PALETTE, "🇰🇪"]


def test_channels_without_reactions_offer_none_and_lists_show_counts_only() -> None:
    counted = {"reactions": {"👍": 2, "❤️": 0}, "votes": {}}
    none = post_of(item({"type": "text"}, counters=counted), reactions="none", allowed_reactions=[])
    assert none.reactions == [] and not none.can_react
    listed = post_of(
        item({"type": "text"}, counters=counted), reactions=COUNTED_ONLY, allowed_reactions=[]
    )
    assert [(r.emoji, r.count) for r in listed.reactions] == [("👍", 2)]
    assert not listed.can_react


def test_a_poll_shows_counts_per_option_total_and_the_callers_vote() -> None:
    poll = {
        "question": "Open on Sundays?",
        "options": ["Yes", "No", "Only mornings"],
        "multiple": True,
    }
    post = post_of(
        item(
            {"type": "poll", "poll": poll},
            counters={"reactions": {}, "votes": {"0": 4, "2": 1}},
            my_vote=[2],
        ),
        reactions="none",
        allowed_reactions=[],
    )
    assert post.poll is not None
    assert [(o.text, o.count, o.chosen) for o in post.poll.options] == [
        ("Yes", 4, False),
        ("No", 0, False),
        ("Only mornings", 1, True),
    ]
    assert post.poll.total == 5 and post.poll.voted and post.poll.multiple
    assert post.preview == "Open on Sundays?"


def test_previews_are_one_line_and_bounded() -> None:
    assert preview_of("Clinic\nopen   until 8pm") == "Clinic open until 8pm"
    long = preview_of("word " * 100)
    assert len(long) == PREVIEW_CHARS and long.endswith("…")
    assert preview_of(None) == ""


def test_media_and_edits_are_carried() -> None:
    media = {
        "media_id": "01a23c86-0000-7000-8000-000000000001",
        "kind": "photo",
        "mime": "image/jpeg",
        "bytes": 10,
        "width": 800,
        "height": 500,
    }
    post = post_of(
        item(
            {"type": "photo", "media": media, "caption": "New wing"},
            edited_at="2026-12-03T16:00:00+00:00",
        ),
        reactions="none",
        allowed_reactions=[],
    )
    assert post.media is not None and (post.media.kind, post.media.width) == ("photo", 800)
    assert post.edited and post.preview == "New wing"
