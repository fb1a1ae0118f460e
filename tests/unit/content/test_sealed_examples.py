"""The sealed example messages of `herald.posts.v1` open with the keys documented here.

The examples were sealed with the fixed test master key below (never used anywhere else):
`HERALD_CONTENT_MASTER_KEY=example:aGVyYWxkLWV4YW1wbGUtbWFzdGVyLWtleS0wMDAwMCE` (the 32
bytes `herald-example-master-key-00000!`). Their content keys, as `content_keys` rows
would hold them wrapped under it, are `WRAPPED` (the raw keys are bytes 0..31 for the
publish and 32..63 for the edit).
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from shared.content.keys import ContentKeyError, MasterKeys
from shared.events import POST_EVENTS
from shared.events.posts import PostEditedSealed, PostPublishedSealed

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "events" / "examples" / "posts"
EXAMPLE_MASTER_KEY = "example:aGVyYWxkLWV4YW1wbGUtbWFzdGVyLWtleS0wMDAwMCE"
WRAPPED = {
    UUID("0193a1b2-4444-4000-8000-000000000004"): bytes.fromhex(
        "edeb5317ff9487fed6a9ce85de1eb6fbeeb7f78cad8586a2e7954ea16d0ebcf1"
        "75bbded1e67d28507ed3a3da0f3c4cb3e8785ddb92ee837964561968"
    ),
    UUID("0193a1b2-5555-4000-8000-000000000005"): bytes.fromhex(
        "f4fc628a8696fd5a7ecf2112d8b375d98f92d147255af670574621411fdb8c97"
        "8bfaef9d8ceef436a7f36e460dadd5881858b73627a1cfb4b4a10a07"
    ),
}


def example_key(key_id: UUID) -> bytes:
    """The raw content key of an example, unwrapped from `WRAPPED`."""
    return MasterKeys.from_setting(EXAMPLE_MASTER_KEY).unwrap("example", key_id, WRAPPED[key_id])


def test_the_published_example_opens_to_its_body_and_holds_no_plaintext() -> None:
    raw = (EXAMPLES / "post.published.v2.json").read_bytes()
    assert b"kick-off" not in raw.lower()
    event = POST_EVENTS.decode(raw)
    assert isinstance(event, PostPublishedSealed)
    body = event.payload.open(example_key(event.payload.key_id))
    assert body.caption == "Match day: kick-off at 15:00"
    assert body.media is not None and body.media.mime == "image/jpeg"


def test_the_edited_example_opens_to_its_caption() -> None:
    raw = (EXAMPLES / "post.edited.v2.json").read_bytes()
    assert b"15:30" not in raw
    event = POST_EVENTS.decode(raw)
    assert isinstance(event, PostEditedSealed)
    edit = event.payload.open(example_key(event.payload.key_id))
    assert edit.caption == "Kick-off moved to 15:30"
    assert edit.text is None


def test_a_sealed_body_does_not_open_under_another_versionsexample_key() -> None:
    event = POST_EVENTS.decode((EXAMPLES / "post.edited.v2.json").read_bytes())
    assert isinstance(event, PostEditedSealed)
    with pytest.raises(ContentKeyError):
        event.payload.open(example_key(UUID("0193a1b2-4444-4000-8000-000000000004")))
