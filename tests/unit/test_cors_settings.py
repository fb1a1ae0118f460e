"""HERALD_CORS_ORIGINS takes explicit origins only: a typo that would never match a
browser's `Origin` header refuses to start rather than silently allowing nothing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import HttpServiceSettings


def test_origins_are_split_and_trimmed() -> None:
    settings = HttpServiceSettings(cors_origins=" https://a.example.org, http://localhost:5173 ,")
    assert settings.cors_origin_list == ["https://a.example.org", "http://localhost:5173"]
    assert HttpServiceSettings(cors_origins="").cors_origin_list == []


@pytest.mark.parametrize(
    "bad", ["*", "https://a.example.org/", "a.example.org", "https://a.example.org/app", "ftp://x"]
)
def test_anything_but_an_origin_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="HERALD_CORS_ORIGINS"):
        HttpServiceSettings(cors_origins=f"https://ok.example.org,{bad}")
