"""Content keys: wrapping under the master key, rotation, tampering, sealed bodies."""

from __future__ import annotations

import base64
import os
from uuid import uuid4

import pytest

from shared.content.keys import (
    DEV_MASTER_KEY,
    ContentKeyError,
    MasterKeys,
    body_aad,
    decrypt_body,
    encrypt_body,
    new_content_key,
)
from shared.settings import Environment, HeraldSettings


def _entry(key_id: str) -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"


def test_a_wrapped_key_unwraps_to_the_same_key() -> None:
    masters = MasterKeys.from_setting(_entry("m1"))
    key = new_content_key()
    master_id, wrapped = masters.wrap(key)
    assert master_id == "m1"
    assert key.key not in wrapped
    assert masters.unwrap(master_id, key.key_id, wrapped) == key.key


def test_after_rotation_an_older_master_key_still_unwraps() -> None:
    old = _entry("2026-11")
    before = MasterKeys.from_setting(old)
    key = new_content_key()
    master_id, wrapped = before.wrap(key)

    rotated = MasterKeys.from_setting(f"{_entry('2026-12')},{old}")
    assert rotated.current_id == "2026-12"
    assert rotated.wrap(new_content_key())[0] == "2026-12"
    assert rotated.unwrap(master_id, key.key_id, wrapped) == key.key
    # Dropping the old entry makes its keys unreadable.
    with pytest.raises(ContentKeyError):
        MasterKeys.from_setting(_entry("2026-12")).unwrap(master_id, key.key_id, wrapped)


def test_a_tampered_wrap_or_one_moved_to_another_key_id_fails() -> None:
    masters = MasterKeys.from_setting(_entry("m"))
    key = new_content_key()
    master_id, wrapped = masters.wrap(key)
    flipped = bytes([wrapped[0]]) + bytes([wrapped[1] ^ 1]) + wrapped[2:]
    with pytest.raises(ContentKeyError):
        masters.unwrap(master_id, key.key_id, flipped)
    with pytest.raises(ContentKeyError):
        masters.unwrap(master_id, uuid4(), wrapped)


def test_a_sealed_body_opens_with_its_key_and_post_only() -> None:
    key = new_content_key()
    post_id = uuid4()
    sealed = encrypt_body(key.key, b'{"text":"hello followers"}', body_aad(post_id))
    assert b"hello" not in sealed
    assert decrypt_body(key.key, sealed, body_aad(post_id)) == b'{"text":"hello followers"}'
    with pytest.raises(ContentKeyError):
        decrypt_body(key.key, sealed, body_aad(uuid4()))
    with pytest.raises(ContentKeyError):
        decrypt_body(new_content_key().key, sealed, body_aad(post_id))
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ContentKeyError):
        decrypt_body(key.key, tampered, body_aad(post_id))


def test_keys_and_nonces_are_never_reused() -> None:
    masters = MasterKeys.from_setting(_entry("m"))
    keys = [new_content_key() for _ in range(500)]
    assert len({k.key for k in keys}) == 500
    assert len({k.key_id for k in keys}) == 500
    wrap_nonces = {masters.wrap(keys[0])[1][:12] for _ in range(500)}
    body_nonces = {encrypt_body(keys[0].key, b"x", b"")[:12] for _ in range(500)}
    assert len(wrap_nonces) == 500
    assert len(body_nonces) == 500


@pytest.mark.parametrize(
    "value",
    [
        "",
        "no-colon",
        "m:not base64!",
        "m:" + base64.urlsafe_b64encode(b"short").decode(),
        f"{_entry('m')},{_entry('m')}",
        "bad id:" + _entry("x").split(":")[1],
    ],
)
def test_malformed_settings_are_refused_without_echoing_keys(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        MasterKeys.from_setting(value)
    for part in value.split(","):
        secret = part.partition(":")[2]
        if len(secret) > 10:
            assert secret not in str(caught.value)


def test_production_refuses_the_placeholder_and_a_missing_key() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        MasterKeys.from_setting(DEV_MASTER_KEY, production=True)
    production = HeraldSettings(environment=Environment.PRODUCTION, jwt_secret="x" * 40)
    with pytest.raises(ValueError, match="required"):
        production.content_master_keys()
    real = _entry("prod-1")
    configured = HeraldSettings(
        environment=Environment.PRODUCTION, jwt_secret="x" * 40, content_master_key=real
    )
    assert configured.content_master_keys().current_id == "prod-1"
    assert real.split(":")[1] not in repr(configured)
    # Outside production an unset key means the development placeholder.
    assert HeraldSettings(content_master_key="").content_master_keys().current_id == "dev"


def test_clear_bodies_are_a_benchmark_setting_refused_in_production() -> None:
    from services.publisher.config import PublisherSettings

    assert PublisherSettings().encrypt_bodies is True
    assert PublisherSettings(HERALD_PUBLISHER_ENCRYPT_BODIES="false").encrypt_bodies is False
    with pytest.raises(ValueError, match="refused in production"):
        PublisherSettings(
            environment=Environment.PRODUCTION,
            jwt_secret="x" * 40,
            content_master_key=_entry("k"),
            HERALD_PUBLISHER_ENCRYPT_BODIES="false",
        )
