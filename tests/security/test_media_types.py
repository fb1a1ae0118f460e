"""Media types come from the bytes: a file whose name and declared type lie is typed by
its bytes (or refused), HTML and SVG are refused at upload whatever they are called, and
the feed serves stored files with the sniffed type, `nosniff` and a name made of the id
only — never as text/html or image/svg+xml."""

from __future__ import annotations

from uuid import UUID

import httpx
import pytest

from tests.integration.feed.builder import wait_post_visible
from tests.integration.publisher.conftest import image_bytes
from tests.security.world import World, expect, publish
from tests.support import media_samples
from tests.support.tokens import auth

SCRIPT = b"<script>alert(document.cookie)</script>"
HTML = b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
HOSTILE = {
    "html named png": (HTML, "a.png", "image/png"),
    "html with BOM": (b"\xef\xbb\xbf" + HTML + b" " * 200, "a.jpg", "image/jpeg"),
    "svg named png": (SVG, "a.png", "image/png"),
    "svg declared as svg": (SVG + SCRIPT, "a.svg", "image/svg+xml"),
    "gif": (image_bytes("GIF"), "a.gif", "image/gif"),
    "png magic then html": (b"\x89PNG\r\n\x1a\n" + HTML * 20, "a.png", "image/png"),
    "pdf": (b"%PDF-1.4\n" + b"0" * 300, "a.pdf", "application/pdf"),
    # Video and voice whose first bytes are a real container header, then a page.
    "mp4 header then html": (media_samples.mp4_ftyp() + HTML, "a.mp4", "video/mp4"),
    "whole mp4 then html": (media_samples.mp4() + HTML, "a.mp4", "video/mp4"),
    "webm header then html": (media_samples.webm_header() + HTML, "a.webm", "video/webm"),
    "ogg opus head then html": (
        media_samples.ogg_page(media_samples.OPUS_HEAD, sequence=0, flags=0x02) + HTML,
        "a.ogg",
        "audio/ogg",
    ),
    "whole ogg then html": (media_samples.ogg_opus() + HTML, "a.ogg", "audio/ogg"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_markup_and_unsupported_types_are_refused_at_upload(
    case: str, world: World, pub: httpx.AsyncClient
) -> None:
    data, name, declared = HOSTILE[case]
    response = await pub.post(
        f"/v1/channels/{world.channel_id}/media",
        files={"file": (name, data, declared)},
        headers=auth(world.admin),
    )
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"


# Whole containers (hand-built, see tests.support.media_samples) → (kind, type).
CONTAINERS = {
    "mp4": (media_samples.mp4(), ("video", "video/mp4")),
    "webm": (media_samples.webm(), ("video", "video/webm")),
    "webm as a browser records it": (media_samples.webm_streamed(), ("video", "video/webm")),
    "ogg/opus": (media_samples.ogg_opus(), ("voice", "audio/ogg")),
}


async def test_whole_video_and_voice_containers_are_accepted(
    world: World, pub: httpx.AsyncClient
) -> None:
    for case, (data, typed) in CONTAINERS.items():
        response = await pub.post(
            f"/v1/channels/{world.channel_id}/media",
            files={"file": ("f.bin", data, "application/octet-stream")},
            headers=auth(world.admin),
        )
        media = expect(response, 201)
        assert (media["kind"], media["mime"]) == typed, case


# (bytes, file name, declared type) → the type the bytes say.
LYING = {
    "png named mp4": (image_bytes("PNG"), "clip.mp4", "video/mp4", "image/png"),
    "jpeg declared html": (image_bytes("JPEG"), "page.html", "text/html", "image/jpeg"),
    "webp named svg": (image_bytes("WEBP"), "logo.svg", "image/svg+xml", "image/webp"),
    "png with html appended": (image_bytes("PNG") + SCRIPT, "x.html", "text/html", "image/png"),
}


async def test_lying_names_are_typed_by_their_bytes_and_served_safely(
    world: World, pub: httpx.AsyncClient, fd: httpx.AsyncClient
) -> None:
    channel = world.channel_id
    served: dict[str, tuple[str, str]] = {}
    for case, (data, name, declared, sniffed) in LYING.items():
        uploaded = await pub.post(
            f"/v1/channels/{channel}/media",
            files={"file": (name, data, declared)},
            headers=auth(world.admin),
        )
        media = expect(uploaded, 201)
        assert (media["kind"], media["mime"]) == ("photo", sniffed), case
        post_id = await publish(
            pub, channel, world.admin, {"type": "photo", "media_id": media["media_id"]}
        )
        served[case] = (media["media_id"], post_id)
    for case, (media_id, post_id) in served.items():
        await wait_post_visible(fd, UUID(channel), UUID(post_id))
        response = await fd.get(f"/v1/media/{media_id}")
        assert response.status_code == 200, (case, response.text)
        content_type = response.headers["content-type"]
        assert content_type == LYING[case][3], case
        assert "html" not in content_type and "svg" not in content_type
        assert response.headers["x-content-type-options"] == "nosniff"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("inline;") and media_id in disposition
        assert LYING[case][1] not in disposition  # the client's file name is never echoed
