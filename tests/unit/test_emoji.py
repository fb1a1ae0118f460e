"""The one emoji rule (`shared.emoji`) and its two users: a channel's `allowed_reactions`
in the publisher and a reaction in the feed accept and refuse exactly the same strings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.feed.api.routes.interactions import check_emoji
from services.feed.models import ReactionSet
from services.feed.queries.channels import reaction_policy
from services.publisher.models import ChannelSettings
from shared.emoji import FULLY_QUALIFIED, MAX_EMOJI_CODEPOINTS, is_emoji, require_emoji
from shared.http.problems import Problem

EMOJI = [
    "👍",
    "❤️",  # with VS16: the fully-qualified heart
    "🔥",
    "©️",  # with VS16
    "👍🏽",  # skin tone
    "🧑🏾‍💻",  # skin tone + ZWJ
    "👨‍👩‍👧",  # ZWJ family
    "🏳️‍🌈",  # VS16 + ZWJ
    "🇫🇷",  # regional-indicator flag
    "🇰🇪",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # tag-sequence flag (Scotland)
    "1️⃣",  # keycaps
    "#️⃣",
    "*️⃣",
    "👩🏻‍❤️‍💋‍👨🏼",  # the longest kind of sequence
    "❤️‍🔥",  # ZWJ of two emoji that Unicode lists as one
    "🤝🏿",  # skin tone on a modifier base
    "🇺🇳",  # a flag that is not a country
]

NOT_EMOJI = [
    "",
    " ",
    "a",
    "1",
    ":)",
    "<script>",
    "°",  # symbols that are not emoji
    "⌘",
    "𝄞",
    "©",  # unqualified: no VS16
    "❤",
    "#⃣",  # keycap without VS16
    "👍👍",  # two emoji
    "🇫🇷🇩🇪",
    "^👍",  # anything around one emoji
    "12345👍",
    " 👍",
    "👍 ",
    "hi👍",
    "👍\u200d",  # dangling or leading joiner
    "\u200d👍",
    "🇫",  # half a flag
    "🏽",  # a skin tone alone is a component, not an emoji
    "👍" * 20,
    # Zero-width joiners make one grapheme of anything; only Unicode's list makes an emoji.
    "⠓\u200d⠑\u200d⠇\u200d⠇\u200d⠕",  # braille text (issue 19's probe)
    "h\u200de\u200dl\u200dl\u200do",
    "👍\u200d👍",  # two emoji joined, a sequence Unicode does not list
    "👍\u200da",
    "👨\u200d👩\u200d👧\u200d👦\u200d👦",  # one member too many
    "🏳\u200d🌈",  # the rainbow flag without its VS16: not fully qualified
    "⠓\ufe0f",  # VS16 on a non-emoji
    "a\ufe0f\u20e3",  # a keycap of a letter
    "🔥🏽",  # skin tone on a non-modifier
    "🇦🇦",  # regional indicators of no flag
    "🏴\U000e0061\U000e007f",  # a tag sequence of no flag
]


@pytest.mark.parametrize("value", EMOJI)
def test_one_fully_qualified_emoji_is_accepted_everywhere(value: str) -> None:
    assert is_emoji(value)
    assert require_emoji(value) == value
    ChannelSettings(reactions="limited", allowed_reactions=[value])
    check_emoji(value, {"reactions": "all"})


@pytest.mark.parametrize("value", NOT_EMOJI)
def test_anything_else_is_refused_everywhere(value: str) -> None:
    assert not is_emoji(value)
    with pytest.raises(ValueError):
        require_emoji(value)
    with pytest.raises(ValidationError):
        ChannelSettings(reactions="limited", allowed_reactions=[value])
    with pytest.raises(Problem) as refused:
        check_emoji(value, {"reactions": "all"})
    assert refused.value.status == 422


@pytest.mark.parametrize("value", NOT_EMOJI[1:])
def test_a_limited_channel_never_takes_a_non_emoji_even_if_listed(value: str) -> None:
    # A setting stored before the one rule (or written around the publisher's API) may list
    # anything; the feed still takes only emoji from it.
    with pytest.raises(Problem) as refused:
        check_emoji(value, {"reactions": "limited", "allowed_reactions": [value]})
    assert refused.value.status == 422


def test_a_limited_channel_offers_only_the_emoji_it_lists() -> None:
    # What the card shows as the channel's reactions: the listed text is not offered.
    listed = {"reactions": "limited", "allowed_reactions": ["👍", *NOT_EMOJI, "❤️", 7]}
    assert reaction_policy(listed) == ("limited", ["👍", "❤️"])


def test_the_feeds_length_bound_never_refuses_a_real_emoji() -> None:
    # The feed's model cuts off long strings before the lookup; it must not cut an emoji.
    bound = ReactionSet.model_fields["emoji"].metadata
    max_length = next(m.max_length for m in bound if hasattr(m, "max_length"))
    assert max_length >= MAX_EMOJI_CODEPOINTS


def test_the_data_is_a_full_emoji_set() -> None:
    # A broken or truncated data file would refuse most reactions; recent Unicode emoji
    # versions list well over 3,500 fully-qualified sequences.
    assert len(FULLY_QUALIFIED) > 3500
