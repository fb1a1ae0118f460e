"""The one text rule (`shared.text`) and the regexes that must not let a trailing newline
through: pure checks, no I/O."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from services.feed.models import PushKeys, ReportCreate
from services.publisher.fields import Handle, Language
from services.publisher.models import ChannelCreate, PollCreate, PostCreate, PostUpdate
from shared.text import MultiLine, SingleLine, is_multi_line, is_single_line

# Every kind of character the rule refuses, one of each class.
HOSTILE = {
    "nul": "\x00",
    "bell": "\x07",
    "escape": "\x1b",
    "carriage return": "\r",
    "delete": "\x7f",
    "c1 next line": "\x85",
    "c1 csi": "\x9b",
    "lone high surrogate": "\ud800",
    "lone low surrogate": "\udfff",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_both_rules_refuse_control_characters_and_surrogates(name: str) -> None:
    value = f"before{HOSTILE[name]}after"
    assert not is_single_line(value)
    assert not is_multi_line(value)
    with pytest.raises(ValidationError):
        TypeAdapter(SingleLine).validate_python(value)
    with pytest.raises(ValidationError):
        TypeAdapter(MultiLine).validate_python(value)


def test_newline_and_tab_are_text_only_where_lines_are() -> None:
    assert is_multi_line("line one\n\tline two")
    assert not is_single_line("line one\nline two")
    assert not is_single_line("a\tb")


def test_ordinary_unicode_is_text() -> None:
    for value in ("Grüße", "日本語", "🇵🇹 ⚽", "\u00a0non-breaking", "emoji 👩\u200d🔬"):
        assert is_single_line(value) and is_multi_line(value)


def test_the_refusal_never_echoes_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(SingleLine).validate_python("secret\x00value")
    assert "secret" not in str(caught.value.errors(include_input=False))


def _poll(**overrides: object) -> dict[str, object]:
    return {"question": "Which?", "options": ["a", "b"], **overrides}


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (PostCreate, {"type": "text", "text": "hi\x00"}),
        (
            PostCreate,
            {
                "type": "photo",
                "media_id": "0193a1b2-1111-7000-8000-000000000001",
                "caption": "x\ud800",
            },
        ),
        (PostCreate, {"type": "poll", "poll": _poll(question="Which\x00?")}),
        (PostCreate, {"type": "poll", "poll": _poll(options=["a", "b\x1b"])}),
        (PostCreate, {"type": "poll", "poll": _poll(question="Which\n?")}),
        (PostUpdate, {"text": "\x00"}),
        (PostUpdate, {"caption": "\x7f"}),
        (PollCreate, _poll(options=["a", "\x85"])),
        (
            ReportCreate,
            {
                "channel_id": "0193a1b2-1111-7000-8000-000000000001",
                "reason": "spam",
                "note": "look\x00",
            },
        ),
    ],
)
def test_request_models_refuse_hostile_text(
    model: type[BaseModel], body: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_post_text_keeps_its_lines() -> None:
    post = PostCreate.model_validate({"type": "text", "text": "one\n\ttwo"})
    assert post.text == "one\n\ttwo"


def test_channel_name_is_one_line_and_description_may_have_lines() -> None:
    base = {
        "handle": "abc",
        "name": "News",
        "category": "news",
        "country": "PT",
        "language": "pt-PT",
    }
    ChannelCreate.model_validate({**base, "description": "one\ntwo\tthree"})
    with pytest.raises(ValidationError):
        ChannelCreate.model_validate({**base, "name": "News\nFlash"})
    with pytest.raises(ValidationError):
        ChannelCreate.model_validate({**base, "description": "x\x00"})


@pytest.mark.parametrize("value", ["en\n", "pt-BR\n", "\nen", "en\r\n"])
def test_language_refuses_a_trailing_or_leading_newline(value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Language).validate_python(value)
    assert TypeAdapter(Language).validate_python("pt-BR") == "pt-BR"


def test_pydantic_patterns_anchor_at_the_very_end() -> None:
    """pydantic's `pattern=` runs on Rust's regex, whose `$` is the end of the text (not
    Python's "or before a final newline"): these fields rely on it."""
    with pytest.raises(ValidationError):
        TypeAdapter(Handle).validate_python("abc\n")
    with pytest.raises(ValidationError):
        PushKeys.model_validate({"p256dh": "abc\n", "auth": "abc"})
    with pytest.raises(ValidationError):
        TypeAdapter(Annotated[str, Field(pattern=r"^[a-z]+$")]).validate_python("abc\n")
