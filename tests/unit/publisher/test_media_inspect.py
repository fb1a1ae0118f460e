"""Media types are decided by the bytes; kinds and limits follow DESIGN.md."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from services.publisher.media.inspect import (
    LIMITS,
    TooLarge,
    Unsupported,
    check_size,
    resolve_kind,
    sniff_mime,
)
from shared.events.content import MediaKind


def _image(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_images_are_recognised(fmt: str, mime: str) -> None:
    assert sniff_mime(_image(fmt)) == mime


def test_containers_are_verified_not_just_named() -> None:
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(32)
    assert sniff_mime(mp4) == "video/mp4"
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(32)
    with pytest.raises(Unsupported):
        sniff_mime(heic)
    vorbis = b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x01vorbis" + bytes(32)
    with pytest.raises(Unsupported):
        sniff_mime(vorbis)
    opus = b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead\x01\x01" + bytes(32)
    assert sniff_mime(opus) == "audio/ogg"


@pytest.mark.parametrize(
    "data", [b"hello world", b"%PDF-1.7\n" + bytes(64), b"", b"GIF89a" + bytes(32)]
)
def test_other_types_are_unsupported(data: bytes) -> None:
    with pytest.raises(Unsupported):
        sniff_mime(data)


def test_kinds() -> None:
    assert resolve_kind("image/webp", None) is MediaKind.PHOTO
    assert resolve_kind("image/webp", MediaKind.STICKER) is MediaKind.STICKER
    assert resolve_kind("audio/ogg", MediaKind.VOICE) is MediaKind.VOICE
    for mime, kind in (("image/png", MediaKind.STICKER), ("video/mp4", MediaKind.PHOTO)):
        with pytest.raises(Unsupported):
            resolve_kind(mime, kind)


def test_limits() -> None:
    check_size(MediaKind.STICKER, LIMITS[MediaKind.STICKER])
    with pytest.raises(TooLarge):
        check_size(MediaKind.STICKER, LIMITS[MediaKind.STICKER] + 1)
    assert LIMITS[MediaKind.VIDEO] == 64 * 1024 * 1024
