"""Pure rules of the publisher side of push: who is an operator, which post bodies are
valid, and that adding `silent`/`priority` did not change the hash of an older request
(a retry with its Idempotency-Key across the upgrade must not read as a reused key)."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from pydantic import ValidationError

from services.publisher.models import PostCreate
from services.publisher.publishing import request_hash
from shared.auth import Principal, roles_of
from shared.http.auth import is_operator


def test_operators_are_listed_accounts_or_holders_of_the_role() -> None:
    listed = frozenset({"ops-1"})
    assert is_operator(Principal("ops-1"), listed)
    assert is_operator(Principal("anyone", frozenset({"herald-operator"})), listed)
    assert not is_operator(Principal("anyone", frozenset({"operator", "admin"})), listed)
    assert not is_operator(Principal("ops-10"), listed)


@pytest.mark.parametrize(
    ("claim", "roles"),
    [
        (["herald-operator", "x"], {"herald-operator", "x"}),
        ("herald-operator", set()),  # not a list: no roles
        ({"herald-operator": True}, set()),
        ([1, None, "a" * 129, "ok"], {"ok"}),
        (None, set()),
    ],
)
def test_roles_claim_is_read_strictly(claim: object, roles: set[str]) -> None:
    assert roles_of(claim) == roles


def test_a_silent_alert_is_invalid_and_defaults_are_normal() -> None:
    with pytest.raises(ValidationError, match="silent"):
        PostCreate.model_validate(
            {"type": "text", "text": "x", "silent": True, "priority": "alert"}
        )
    with pytest.raises(ValidationError):
        PostCreate.model_validate({"type": "text", "text": "x", "priority": "urgent"})
    plain = PostCreate.model_validate({"type": "text", "text": "x"})
    assert (plain.silent, plain.priority) == (False, "normal")


def test_request_hash_of_a_plain_post_is_what_it_was_before_the_new_fields() -> None:
    body = PostCreate.model_validate({"type": "text", "text": "x"})
    before = {"type": "text", "text": "x", "media_id": None, "caption": None, "poll": None}
    expected = hashlib.sha256(orjson.dumps(before, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert request_hash(body) == expected
    alert = PostCreate.model_validate({"type": "text", "text": "x", "priority": "alert"})
    silent = PostCreate.model_validate({"type": "text", "text": "x", "silent": True})
    assert len({request_hash(body), request_hash(alert), request_hash(silent)}) == 3
