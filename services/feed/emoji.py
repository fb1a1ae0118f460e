"""Is a string exactly one emoji? For channels whose reactions are `all`.

Python's `re` has no grapheme clusters, so this is a small, strict recogniser of the
emoji shapes clients send: a pictograph (Unicode category So) optionally with a variation
selector and a skin-tone modifier, sequences of those joined by ZWJ (families,
professions), flags (two regional indicators or a tag sequence), and keycaps (digit,
`#` or `*`, optional VS16, U+20E3). Anything else, including text, is refused. Length is
bounded first, so the work is bounded too.
"""

from __future__ import annotations

import unicodedata

MAX_EMOJI_CODEPOINTS = 16

ZWJ = "\u200d"
VARIATION_SELECTORS = frozenset("\ufe0e\ufe0f")
KEYCAP = "\u20e3"
KEYCAP_BASES = frozenset("0123456789#*")


def _is_regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _is_skin_tone(ch: str) -> bool:
    return 0x1F3FB <= ord(ch) <= 0x1F3FF


def _is_tag(ch: str) -> bool:
    return 0xE0020 <= ord(ch) <= 0xE007F


def _is_pictograph(ch: str) -> bool:
    if _is_regional(ch) or _is_skin_tone(ch):
        return False
    return unicodedata.category(ch) == "So"


def _element_end(s: str, i: int) -> int:
    """Index after one emoji element starting at `i`, or -1 when there is none."""
    if not _is_pictograph(s[i]):
        return -1
    i += 1
    if i < len(s) and s[i] in VARIATION_SELECTORS:
        i += 1
    if i < len(s) and _is_skin_tone(s[i]):
        i += 1
    return i


def is_single_emoji(s: str) -> bool:
    if not 1 <= len(s) <= MAX_EMOJI_CODEPOINTS:
        return False
    # Flag: exactly two regional indicators.
    if _is_regional(s[0]):
        return len(s) == 2 and _is_regional(s[1])
    # Keycap: 1️⃣ #️⃣ *️⃣
    if s[0] in KEYCAP_BASES:
        return s[1:] in (KEYCAP, "\ufe0f" + KEYCAP)
    i = _element_end(s, 0)
    if i < 0:
        return False
    # Subdivision flags: black flag + tag characters + cancel tag.
    if i < len(s) and _is_tag(s[i]):
        return all(_is_tag(ch) for ch in s[i:]) and s[-1] == "\U000e007f"
    while i < len(s):
        if s[i] != ZWJ or i + 1 >= len(s):
            return False
        i = _element_end(s, i + 1)
        if i < 0:
            return False
    return True
