"""The committed OpenAPI documents match what the services serve (`make openapi`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.openapi import documents, render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"


@pytest.mark.parametrize("name", ["publisher", "feed"])
def test_committed_openapi_is_current(name: str) -> None:
    committed = (DOCS / f"{name}.json").read_text()
    assert committed == render(documents()[name]), "run `make openapi` and commit the result"
