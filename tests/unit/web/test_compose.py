"""The compose form's translation into a publish request (pure: no server)."""

from __future__ import annotations

from typing import Any

import pytest

from services.web.routes.admin.posts import post_body, publish_at_utc

BLANK: dict[str, Any] = {
    "text": "",
    "caption": "",
    "media_id": "",
    "question": "",
    "options": [],
    "multiple": False,
    "silent": False,
    "alert": False,
    "publish_at": None,
}


def _body(type_: str, **given: Any) -> dict[str, Any]:
    return post_body(type_=type_, **{**BLANK, **given})


def test_each_type_sends_only_its_own_fields() -> None:
    assert _body("text", text="hi", caption="x") == {
        "type": "text",
        "text": "hi",
    }
    photo = _body("photo", media_id="m1", caption="sun", text="x")
    assert photo == {"type": "photo", "media_id": "m1", "caption": "sun"}
    poll = _body("poll", question=" Tea? ", options=["Yes", " ", "No ", ""], multiple=True)
    assert poll == {
        "type": "poll",
        "poll": {"question": "Tea?", "options": ["Yes", "No"], "multiple": True},
    }


def test_delivery_options_are_sent_only_when_chosen() -> None:
    body = _body("text", text="x", silent=True, publish_at="2030-01-01T10:00:00+00:00")
    assert body["silent"] is True and body["publish_at"] == "2030-01-01T10:00:00+00:00"
    assert "priority" not in body
    assert _body("text", text="x", alert=True)["priority"] == "alert"


def test_publish_at_uses_the_browsers_offset_else_utc() -> None:
    assert publish_at_utc("", 60) is None
    # Berlin in winter: getTimezoneOffset() is -60, so 10:00 there is 09:00 UTC.
    assert publish_at_utc("2030-01-01T10:00", -60) == "2030-01-01T09:00:00+00:00"
    assert publish_at_utc("2030-01-01T10:00", None) == "2030-01-01T10:00:00+00:00"
    with pytest.raises(ValueError):
        publish_at_utc("tomorrow", 0)
