"""Web thumbnails (anonymous visitors ask for them) decode only photos within the
publisher's pixel limit: a decompression bomb is refused from its header."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.web.routes.follower.media import THUMB_EDGE, _thumbnail
from tests.support.media_samples import zlib_png


def test_a_photo_is_thumbnailed() -> None:
    source = io.BytesIO()
    Image.new("RGBA", (1600, 1000), (30, 120, 200, 255)).save(source, "PNG")
    with Image.open(io.BytesIO(_thumbnail(source.getvalue(), "image/png"))) as thumb:
        assert thumb.format == "WEBP" and thumb.size == (THUMB_EDGE, 300)


def test_a_camera_photo_is_shown_upright() -> None:
    # Phones store a portrait photo as landscape pixels plus EXIF orientation 6 (turn
    # 90° clockwise); browsers show the full photo turned, so must the thumbnail be.
    photo = Image.new("RGB", (1600, 1000), (200, 200, 200))
    photo.paste((200, 20, 20), (0, 0, 100, 100))  # red mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    source = io.BytesIO()
    photo.save(source, "JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(_thumbnail(source.getvalue(), "image/jpeg"))) as thumb:
        assert thumb.size == (300, THUMB_EDGE)
        # Turned clockwise, the stored top-left corner is now the top-right one.
        red, green, _ = thumb.convert("RGB").getpixel((thumb.width - 5, 5))  # type: ignore[misc]
        assert red > 150 and green < 80


def test_a_bomb_is_not_decoded() -> None:
    # 7000x7000 black pixels: 190 KB, 196 MB decoded.
    with pytest.raises(ValueError, match="pixels"):
        _thumbnail(zlib_png(7000, 7000), "image/png")


def test_a_type_that_is_not_a_photo_is_not_decoded() -> None:
    with pytest.raises(ValueError):
        _thumbnail(zlib_png(64, 64), "image/gif")
