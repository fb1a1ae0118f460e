"""The one rule for text that Herald accepts from outside: which characters may be stored.

Postgres `text` cannot hold U+0000 and its UTF-8 encoder refuses lone surrogates
(U+D800-U+DFFF, which JSON's `\\ud800` escapes and Python strings can carry), so a value
with either would be acknowledged and then fail at the insert — for a post, after its
202. The other C0 and C1 control characters (U+0001-U+001F, U+007F-U+009F) are refused
with them: no client types them, and in names, handles or account ids they only hide or
disguise text. Multi-line fields (post text, captions, descriptions, notes) keep newline
and tab; single-line fields allow neither.

Use the pydantic types (`SingleLine`, `MultiLine`) on request fields; `is_single_line`
serves checks outside pydantic (path segments and query values in `shared.http.params`,
a token's `sub` in `shared.http.auth`). A refusal never echoes the value.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls, DEL and C1 controls, and every surrogate code point (a well-formed Python
# str from UTF-8 never holds one; one from a JSON escape or `surrogateescape` may).
_SINGLE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same minus tab (U+0009) and newline (U+000A).
_MULTI_LINE_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")

SINGLE_LINE_RULE = (
    "must not contain control characters (U+0000-U+001F, U+007F-U+009F) or surrogates"
)
MULTI_LINE_RULE = (
    "must not contain control characters other than newline and tab "
    "(U+0000-U+001F, U+007F-U+009F) or surrogates"
)


def is_single_line(value: str) -> bool:
    """True when `value` holds no control character and no surrogate."""
    return _SINGLE_LINE_BAD.search(value) is None


def is_multi_line(value: str) -> bool:
    """True when `value` holds no control character but newline and tab, and no surrogate."""
    return _MULTI_LINE_BAD.search(value) is None


def _single_line(value: str) -> str:
    if not is_single_line(value):
        raise ValueError(SINGLE_LINE_RULE)
    return value


def _multi_line(value: str) -> str:
    if not is_multi_line(value):
        raise ValueError(MULTI_LINE_RULE)
    return value


SingleLine = Annotated[str, AfterValidator(_single_line)]
MultiLine = Annotated[str, AfterValidator(_multi_line)]
