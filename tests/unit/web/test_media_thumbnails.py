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


def test_a_bomb_is_not_decoded() -> None:
    # 7000x7000 black pixels: 190 KB, 196 MB decoded.
    with pytest.raises(ValueError, match="pixels"):
        _thumbnail(zlib_png(7000, 7000), "image/png")


def test_a_type_that_is_not_a_photo_is_not_decoded() -> None:
    with pytest.raises(ValueError):
        _thumbnail(zlib_png(64, 64), "image/gif")
