"""Images are checked from their header before any pixel is decoded, decoded whole, and
thumbnailed upright whatever their mode; bombs and malformed files are refused."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from services.publisher.media.images import (
    MAX_JPEG_SCANS,
    MAX_PHOTO,
    MAX_STICKER,
    MAX_WEBP_PHOTO,
    TooManyPixels,
    inspect_image,
)
from services.publisher.media.inspect import Unsupported
from shared.events.content import MediaKind
from shared.media.image_header import image_dimensions
from tests.support.media_samples import zlib_png

MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("WEBP", {"lossless": True}),  # VP8L
        ("WEBP", {"quality": 80}),  # VP8
        ("WEBP", {"quality": 80, "exif": b"Exif\0\0"}),  # VP8X
    ],
)
def test_header_sizes_agree_with_the_decoder(fmt: str, options: dict[str, object]) -> None:
    data = _encoded(Image.new("RGB", (123, 45), (9, 99, 199)), fmt, **options)
    assert image_dimensions(io.BytesIO(data), MIMES[fmt]) == (123, 45)


def _webp_header(width: int, height: int) -> bytes:
    """The start of an extended WebP declaring a `width` x `height` canvas (no image data:
    a header is all the size check reads)."""
    vp8x = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + 18) + b"WEBPVP8X" + struct.pack("<I", 10) + vp8x


def test_decompression_bombs_are_refused_before_decoding(tmp_path: Path) -> None:
    # 7000x7000 all-black PNG: 190 KB on the wire, 196 MB decoded.
    with pytest.raises(TooManyPixels, match="7000x7000"):
        inspect_image(_file(tmp_path, zlib_png(7000, 7000)), "image/png", MediaKind.PHOTO)
    with pytest.raises(TooManyPixels, match="7000x7000"):
        inspect_image(_file(tmp_path, _webp_header(7000, 7000)), "image/webp", MediaKind.PHOTO)


def test_pixel_limits_depend_on_kind_and_format(tmp_path: Path) -> None:
    width, height = MAX_PHOTO
    png = _file(tmp_path, zlib_png(width, height))
    assert inspect_image(png, "image/png", MediaKind.PHOTO)[:2] == MAX_PHOTO
    with pytest.raises(TooManyPixels):
        inspect_image(_file(tmp_path, zlib_png(width, height + 1)), "image/png", MediaKind.PHOTO)
    width, height = MAX_WEBP_PHOTO
    with pytest.raises(TooManyPixels):
        webp = _file(tmp_path, _webp_header(width, height + 1))
        inspect_image(webp, "image/webp", MediaKind.PHOTO)
    # A long strip counts as many pixels as a square.
    with pytest.raises(TooManyPixels):
        webp = _file(tmp_path, _webp_header(MAX_STICKER[0] * MAX_STICKER[1] + 1, 1))
        inspect_image(webp, "image/webp", MediaKind.STICKER)
    square = _encoded(Image.new("RGBA", MAX_STICKER), "WEBP", lossless=True)
    assert inspect_image(_file(tmp_path, square), "image/webp", MediaKind.STICKER)[:2] == (
        MAX_STICKER
    )
    larger = _encoded(Image.new("RGBA", (MAX_STICKER[0] + 1, MAX_STICKER[1])), "WEBP")
    with pytest.raises(TooManyPixels):
        inspect_image(_file(tmp_path, larger), "image/webp", MediaKind.STICKER)
    assert inspect_image(_file(tmp_path, larger), "image/webp", MediaKind.PHOTO)[2] is not None


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK"])
def test_thumbnails_of_every_mode(tmp_path: Path, mode: str) -> None:
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    data = _encoded(Image.new(mode, (1300, 700)), fmt)
    width, height, thumbnail = inspect_image(_file(tmp_path, data), MIMES[fmt], MediaKind.PHOTO)
    assert (width, height) == (1300, 700)
    assert thumbnail is not None
    with Image.open(io.BytesIO(thumbnail)) as small:
        assert small.format == "JPEG" and small.size == (320, 172)


def test_thumbnails_are_upright_as_exif_says(tmp_path: Path) -> None:
    image = Image.new("RGB", (640, 320), (250, 0, 0))
    image.paste((0, 0, 250), (0, 0, 320, 320))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: shown turned 90° clockwise
    data = _encoded(image, "JPEG", exif=exif)
    width, height, thumbnail = inspect_image(_file(tmp_path, data), "image/jpeg", MediaKind.PHOTO)
    assert (width, height) == (640, 320)  # as stored
    assert thumbnail is not None
    with Image.open(io.BytesIO(thumbnail)) as small:
        assert small.size == (160, 320)
        top = small.convert("RGB").getpixel((80, 40))
        assert isinstance(top, tuple) and top[2] > 200 and top[0] < 60  # blue on top


def test_stickers_have_no_thumbnail(tmp_path: Path) -> None:
    data = _encoded(Image.new("RGBA", (512, 512)), "WEBP", lossless=True)
    assert inspect_image(_file(tmp_path, data), "image/webp", MediaKind.STICKER) == (512, 512, None)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_images_are_refused(tmp_path: Path, fmt: str) -> None:
    data = _encoded(Image.effect_noise((300, 200), 60).convert("RGB"), fmt)
    with pytest.raises(Unsupported):
        inspect_image(_file(tmp_path, data[: len(data) * 2 // 3]), MIMES[fmt], MediaKind.PHOTO)


def test_a_jpeg_with_too_many_scans_is_refused(tmp_path: Path) -> None:
    data = _encoded(Image.new("RGB", (64, 64)), "JPEG", progressive=True)
    # Each FF DA starts a scan; libjpeg would make a pass over the image for each.
    padding = b"\xff\xda" * (MAX_JPEG_SCANS + 1)
    comment = b"\xff\xfe" + struct.pack(">H", 2 + len(padding)) + padding
    with pytest.raises(Unsupported, match="scans"):
        inspect_image(_file(tmp_path, data[:2] + comment + data[2:]), "image/jpeg", MediaKind.PHOTO)


def test_png_text_chunks_are_bounded(tmp_path: Path) -> None:
    png = _encoded(Image.new("RGB", (8, 8)), "PNG")
    text = zlib.compress(bytes(900_000))
    ztxt = b"Comment\0\0" + text

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    # Two chunks of 0.9 MB of text each (a few KiB compressed), before the image data.
    data = png[:33] + chunk(b"zTXt", ztxt) * 2 + png[33:]
    with pytest.raises(Unsupported):
        inspect_image(_file(tmp_path, data), "image/png", MediaKind.PHOTO)
