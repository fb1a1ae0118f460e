"""The one rule for "is this an emoji?", shared by the publisher (a channel's
`allowed_reactions`) and the feed (a reaction): a string is an emoji iff it is exactly
one **fully-qualified** emoji of Unicode's emoji-test data.

That includes skin-tone variants (👍🏽), ZWJ sequences (👨‍👩‍👧, 🏳️‍🌈), flags (🇫🇷, 🏴󠁧󠁢󠁳󠁣󠁴󠁿)
and keycaps (1️⃣), and refuses everything else: text, two emoji, an emoji with anything
around it, symbols that are not emoji (°, ⌘, 𝄞) and unqualified or minimally-qualified
forms (© or ❤ without VS16, #⃣), so one reaction has one spelling and counts per emoji
don't split between spellings of the same picture.

The data is the pinned `emoji` package's copy of emoji-test.txt; the Unicode version
moves only when that pin does. The set is built once at import, so a check is one hash
lookup (the feed runs it on every reaction).
"""

from __future__ import annotations

from emoji import EMOJI_DATA, STATUS

FULLY_QUALIFIED: frozenset[str] = frozenset(
    sequence for sequence, data in EMOJI_DATA.items() if data["status"] == STATUS["fully_qualified"]
)
# The longest fully-qualified sequence, in code points (10 for kiss/couple with skin tones).
MAX_EMOJI_CODEPOINTS = max(map(len, FULLY_QUALIFIED))


def is_emoji(value: str) -> bool:
    """True iff `value` is exactly one fully-qualified emoji. Never raises."""
    return value in FULLY_QUALIFIED


def require_emoji(value: str) -> str:
    """`value` unchanged if it is one fully-qualified emoji, else ValueError (for pydantic)."""
    if not is_emoji(value):
        raise ValueError("not exactly one fully-qualified emoji (e.g. '👍', '❤️', '🇫🇷')")
    return value
