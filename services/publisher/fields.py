"""Field types of the publisher's API with their validation: emoji (one fully-qualified
emoji, the rule of `shared.emoji`), ISO 3166-1 country, BCP 47 language, handle (any case
in, lower-case out), name (one line) and description (newline and tab allowed): text that
`shared.text` says Postgres can store, so nothing acknowledged fails at the insert.

Python regexes here use `fullmatch`: `$` would also match before a trailing newline
("en\n"). pydantic's `pattern=` runs on Rust's regex, where `$` is the end of the text.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from services.publisher.countries import is_country_code
from shared.emoji import require_emoji
from shared.text import MultiLine, SingleLine

# Simplified BCP 47: a 2-3 letter primary language, then subtags (script, region, variant).
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}")


def _country(value: str) -> str:
    upper = value.upper()
    if not is_country_code(upper):
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return upper


def _language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError("not a BCP 47 language tag (e.g. 'en', 'pt-BR', 'zh-Hant')")
    return value


Emoji = Annotated[str, AfterValidator(require_emoji)]
Country = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(_country)]
Language = Annotated[str, Field(min_length=2, max_length=35), AfterValidator(_language)]
Handle = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{3,32}$"), AfterValidator(str.lower)]
Name = Annotated[SingleLine, Field(min_length=1, max_length=100)]
Description = Annotated[MultiLine, Field(max_length=1000)]
