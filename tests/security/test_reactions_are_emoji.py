"""A reaction is shown to every reader of the post, so it must be an emoji and never text:
braille joined by zero-width joiners (one grapheme, readable as "hello") was accepted by
the running feed. Over HTTP: it is refused with 422 and the caller's reaction stays."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.feed.builder import wait_post_visible
from tests.security.world import World, create_channel, expect, new_account, publish
from tests.support.tokens import auth

BRAILLE_HELLO = "⠓\u200d⠑\u200d⠇\u200d⠇\u200d⠕"


SETTINGS: list[dict[str, Any]] = [
    {"reactions": "all"},
    {"reactions": "limited", "allowed_reactions": ["👍", "❤️"]},
]


@pytest.mark.parametrize("settings", SETTINGS, ids=["all", "limited"])
async def test_text_joined_into_one_grapheme_is_no_reaction(
    world: World, settings: dict[str, Any]
) -> None:
    owner = new_account("emoji")
    # A channel cannot list it among its reactions (the publisher refuses the setting) ...
    refused = await world.pub.post(
        "/v1/channels",
        json={
            "handle": f"ch_{uuid.uuid4().hex[:12]}",
            "name": "Reactions",
            "category": "news",
            "country": "ke",
            "language": "en",
            "settings": {"reactions": "limited", "allowed_reactions": ["👍", BRAILLE_HELLO]},
        },
        headers=auth(owner),
    )
    assert refused.status_code == 422, refused.text
    # ... and no channel takes it.
    channel_id = await create_channel(world.pub, owner, settings=settings)
    post_id = await publish(world.pub, channel_id, owner, {"type": "text", "text": "hi"})
    await wait_post_visible(world.fd, uuid.UUID(channel_id), uuid.UUID(post_id))
    me = auth(new_account("reader"))
    reaction = f"/v1/posts/{post_id}/reaction"
    expect(await world.fd.put(reaction, json={"emoji": "👍"}, headers=me), 200)

    answer = await world.fd.put(reaction, json={"emoji": BRAILLE_HELLO}, headers=me)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    page = expect(await world.fd.get(f"/v1/channels/{channel_id}/posts", headers=me), 200)
    [post] = [p for p in page["items"] if p["post_id"] == post_id]
    assert post["my_reaction"] == "👍"
