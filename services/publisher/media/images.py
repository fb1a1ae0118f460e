"""Decode an uploaded image within a memory bound: check its pixel count from the header,
decode it (a truncated or forged file fails here) and make a small JPEG thumbnail
without ever holding a second full-size copy.

Memory per decoded pixel, measured on Pillow 13: a PNG keeps 4 bytes (RGB is stored as
32 bits); a WebP 16 (libwebp's animation decoder keeps two canvases and hands over a copy
of the frame, which Pillow copies into the image); a JPEG is decoded at 1/2 to 1/8 scale
for its thumbnail (`draft`), but a progressive one still holds 2 bytes per pixel and
component of coefficients. The pixel limits below keep the worst of these near 100 MB
for one image; `verify` runs at most a few decodes at once.

Blocking: run in a worker thread (`services.publisher.media.verify` does).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, PngImagePlugin

from services.publisher.media.inspect import TooLarge, Unsupported
from shared.events.content import MediaKind
from shared.media.image_header import ImageHeaderError, image_dimensions, jpeg_scan_count
from shared.media.thumbnail import draft_for_thumbnail, upright_thumbnail

# A post image is shown at most about 2560 px wide by any client, but admins upload
# straight from phones: a 12 MP camera photo (4032x3024) and a 4K screenshot (3840x2160)
# must pass. 4096x3072 pixels allows both; a JPEG or PNG that size decodes to ≤ 50 MB.
MAX_PHOTO = (4096, 3072)
# A WebP costs four times as much per pixel (see above), and photos straight from a
# camera are JPEG: WebP photos come from apps and the web, already sized for screens
# (Telegram caps photos at 2560 px a side). 2560x2560 keeps a WebP decode near 100 MB.
MAX_WEBP_PHOTO = (2560, 2560)
# Stickers are 512x512 in every messenger; twice that per side leaves room for HiDPI.
MAX_STICKER = (1024, 1024)
# A progressive JPEG has about 10 scans (mozjpeg's optimised ones up to ~20, an embedded
# EXIF thumbnail adds its own); libjpeg decodes each over the whole coefficient buffer, so
# thousands of tiny scans are a CPU bomb in a small file.
MAX_JPEG_SCANS = 100
THUMBNAIL_EDGE = 320

_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# Pillow keeps decompressed PNG text chunks (zTXt, iTXt) in memory, up to 64 MB by
# default; Herald reads none of them, so a little is plenty.
PngImagePlugin.MAX_TEXT_MEMORY = 1024 * 1024


class TooManyPixels(TooLarge):
    """An image whose declared size is over its kind's pixel limit (413)."""


def pixel_limit(mime: str, kind: MediaKind) -> tuple[int, int]:
    """The largest image of `kind` and type `mime` accepted, as width by height, whose area
    bounds the pixel count (any shape of at most that many pixels is accepted)."""
    if kind is MediaKind.STICKER:
        return MAX_STICKER
    return MAX_WEBP_PHOTO if mime == "image/webp" else MAX_PHOTO


def inspect_image(path: Path, mime: str, kind: MediaKind) -> tuple[int, int, bytes | None]:
    """Check and decode the image at `path`; return its width, height and, for a photo,
    a JPEG thumbnail of at most THUMBNAIL_EDGE pixels per side. Raise `TooManyPixels`
    (nothing decoded) or `Unsupported` (not a whole, valid image of type `mime`)."""
    shape = pixel_limit(mime, kind)
    limit = shape[0] * shape[1]
    with path.open("rb") as f:
        try:
            width, height = image_dimensions(f, mime)
        except ImageHeaderError:
            raise Unsupported(f"the bytes are not a valid {mime} image") from None
        if width * height > limit:
            raise TooManyPixels(
                f"this image has {width}x{height} pixels; a {mime} {kind} may have "
                f"at most {limit:,} ({shape[0]}x{shape[1]})"
            )
        if mime == "image/jpeg" and jpeg_scan_count(f) > MAX_JPEG_SCANS:
            raise Unsupported(f"a JPEG may have at most {MAX_JPEG_SCANS} scans")
        f.seek(0)
        try:
            return _decode(f, mime, kind is MediaKind.PHOTO, limit)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise Unsupported(f"the bytes are not a valid {mime} image") from exc


def _decode(
    f: io.BufferedReader, mime: str, thumbnail: bool, limit: int
) -> tuple[int, int, bytes | None]:
    with Image.open(f, formats=[_PILLOW_FORMAT[mime]]) as image:
        width, height = image.size
        # Pillow's own reading of the header must agree with the one checked.
        if width * height > limit:
            raise Unsupported(f"the bytes are not a valid {mime} image")
        if thumbnail:
            draft_for_thumbnail(image, THUMBNAIL_EDGE)
        image.load()
        if not thumbnail:
            return width, height, None
        small = upright_thumbnail(image, THUMBNAIL_EDGE)
        out = io.BytesIO()
        small.convert("RGB").save(out, "JPEG", quality=80)
        return width, height, out.getvalue()
