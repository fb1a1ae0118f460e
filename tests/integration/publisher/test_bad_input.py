"""Bad input gets a clear 4xx problem and changes nothing: in particular, nothing reaches
the posts topic (its end offsets do not move)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
from PIL import Image

from tests.integration.publisher.conftest import (
    OGG_OPUS_BYTES,
    PostsTopic,
    channel_body,
    create_channel,
    image_bytes,
    upload,
)
from tests.support.tokens import auth


def _noise_webp(edge: int) -> bytes:
    import io

    image = Image.frombytes("RGB", (edge, edge), os.urandom(edge * edge * 3))
    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True)
    return out.getvalue()


async def test_bad_input_is_refused_and_nothing_is_published(
    client: httpx.AsyncClient, posts_topic: PostsTopic
) -> None:
    channel = await create_channel(client)
    owner = auth(channel.owner)
    voice = await upload(client, channel, OGG_OPUS_BYTES, "v.ogg")
    assert voice.status_code == 201
    before = await posts_topic.end_offsets()

    async def post(body: Any, status: int, **headers: str) -> dict[str, Any]:
        response = await client.post(channel.url("/posts"), json=body, headers={**owner, **headers})
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem: dict[str, Any] = response.json()
        assert problem["status"] == status and problem["detail"]
        return problem

    await post({"type": "text", "text": 5}, 422)
    await post({"type": "text"}, 422)
    await post({"type": "gif", "text": "x"}, 422)
    await post({"type": "photo", "text": "x"}, 422)
    await post({"type": "text", "text": "x", "poll": None, "media_id": str(uuid.uuid4())}, 422)
    await post({"type": "photo", "media_id": voice.json()["media_id"]}, 422)
    await post({"type": "video", "media_id": str(uuid.uuid4())}, 422)
    await post({"type": "text", "text": "x" * 4097}, 422)
    await post({"type": "photo", "media_id": voice.json()["media_id"], "caption": "c" * 1025}, 422)
    await post({"type": "text", "text": "x" * 70_000}, 413)
    for options in (["only"], [f"o{i}" for i in range(13)], ["same", "same"], ["x" * 101, "y"]):
        await post({"type": "poll", "poll": {"question": "Q?", "options": options}}, 422)
    await post({"type": "text", "text": "x", "pinned": True}, 422)
    await post({"type": "text", "text": "x"}, 422, **{"Idempotency-Key": "k" * 129})
    await post({"type": "text", "text": "x"}, 422, **{"Idempotency-Key": "tab\tkey"})

    malformed = await client.post(
        channel.url("/posts"),
        content=b'{"type": "text", "text": ',
        headers={**owner, "content-type": "application/json"},
    )
    assert malformed.status_code == 422

    # Channels: unknown fields, bad codes, reactions that are not emoji.
    bad_channels: list[dict[str, Any]] = [
        channel_body(color="red"),
        channel_body(handle="no"),
        channel_body(handle="has-dash"),
        channel_body(country="XX"),
        channel_body(country="Kenya"),
        channel_body(category="gossip"),
        channel_body(language="english!"),
        channel_body(name=""),
        channel_body(settings={"reactions": "limited", "allowed_reactions": ["a"]}),
        channel_body(settings={"reactions": "limited", "allowed_reactions": ["👍👍"]}),
        channel_body(settings={"reactions": "limited", "allowed_reactions": ["👍", "©"]}),
        channel_body(settings={"reactions": "limited", "allowed_reactions": []}),
        channel_body(settings={"allowed_reactions": ["👍"] * 2}),
        channel_body(settings={"allowed_reactions": [chr(0x1F600 + i) for i in range(13)]}),
        channel_body(settings={"retention_days": 31}),
        channel_body(avatar_media_id=voice.json()["media_id"]),
    ]
    for body in bad_channels:
        response = await client.post("/v1/channels", json=body, headers=owner)
        assert response.status_code == 422, (body, response.text)
    for change in ({"handle": "renamed"}, {"description": None}, {"name": None}):
        patch = await client.patch(channel.url(), json=change, headers=owner)
        assert patch.status_code == 422, (change, patch.text)
    avatar = await client.patch(
        channel.url(), json={"avatar_media_id": voice.json()["media_id"]}, headers=owner
    )
    assert avatar.status_code == 422

    # Media: judged by the bytes, whatever the name or declared type says.
    png_as_mp4 = await upload(client, channel, image_bytes("PNG"), "clip.mp4", "video/mp4")
    assert png_as_mp4.status_code == 201
    assert (png_as_mp4.json()["kind"], png_as_mp4.json()["mime"]) == ("photo", "image/png")
    text_as_jpg = await upload(
        client, channel, b"hello, not an image\n" * 50, "a.jpg", "image/jpeg"
    )
    assert text_as_jpg.status_code == 415
    truncated = await upload(client, channel, image_bytes("PNG")[:60], "a.png")
    assert truncated.status_code == 415
    png_as_voice = await upload(client, channel, image_bytes("PNG"), "a.png", kind="voice")
    assert png_as_voice.status_code == 415
    big_sticker = await upload(client, channel, _noise_webp(600), "s.webp", kind="sticker")
    assert big_sticker.status_code == 413, big_sticker.text
    bad_kind = await upload(client, channel, image_bytes("PNG"), "a.png", kind="gif")
    assert bad_kind.status_code == 422
    not_a_form = await client.post(channel.url("/media"), content=b"\x89PNG", headers=owner)
    assert not_a_form.status_code == 415
    # Over its kind's limit: refused while streaming, once the bytes say "photo".
    huge_photo = image_bytes("PNG") + bytes(17 * 1024 * 1024)
    too_big = await upload(client, channel, huge_photo, "big.png")
    assert too_big.status_code == 413, too_big.text

    # Unknown ids are 404, malformed ids 422.
    missing = await client.get(channel.url(f"/posts/{uuid.uuid4()}"), headers=owner)
    assert missing.status_code == 404
    garbled = await client.get(channel.url("/posts/not-a-uuid"), headers=owner)
    assert garbled.status_code == 422
    big_page = await client.get(channel.url("/insights?limit=101"), headers=owner)
    assert big_page.status_code == 422

    assert await posts_topic.end_offsets() == before
