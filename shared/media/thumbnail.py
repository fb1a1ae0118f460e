"""Thumbnails without a second full-size copy, upright as the EXIF orientation says:
shared by the publisher (the thumbnail stored with a photo) and the web app (the one it
shows in lists).

Call `draft_for_thumbnail` on an opened image before it is loaded (a JPEG then decodes
at 1/2 … 1/8 scale), then `upright_thumbnail`. Blocking: run in a worker thread.
"""

from __future__ import annotations

from PIL import Image

# Rows of the decoded image reduced at a time: converting the whole image (RGBA is
# premultiplied before resampling, palette images must become RGB) would be a second
# full-size copy.
_BAND_ROWS = 256
# EXIF orientation → the transpose that shows the image upright (as ImageOps does).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112


def draft_for_thumbnail(image: Image.Image, edge: int) -> None:
    """Before `image` is loaded: a JPEG decodes at the smallest scale (1/2 … 1/8) still
    twice the thumbnail's size. Every byte of the file is still decoded, so a truncated
    file still fails."""
    if image.format == "JPEG":
        image.draft("RGB", (edge * 2, edge * 2))


def upright_thumbnail(image: Image.Image, edge: int) -> Image.Image:
    """`image` scaled to fit `edge` by `edge` (RGB, or RGBA when it has transparency),
    turned upright by its EXIF orientation; the orientation is applied to the small
    image, never to a full-size copy."""
    small = _reduced(image, edge)
    small.thumbnail((edge, edge))
    orientation = image.getexif().get(_ORIENTATION_TAG)
    if isinstance(orientation, int) and orientation in _UPRIGHT:
        small = small.transpose(_UPRIGHT[orientation])
    return small


def _reduced(image: Image.Image, edge: int) -> Image.Image:
    """`image` shrunk by an integer factor to at least twice `edge`, in RGB or RGBA, band
    by band: the bands are small, the full-size image is never copied."""
    width, height = image.size
    factor = max(1, max(width, height) // (edge * 2))
    mode = "RGBA" if image.has_transparency_data else "RGB"
    small = Image.new(mode, (-(-width // factor), -(-height // factor)))
    rows = max(_BAND_ROWS // factor, 1) * factor
    for top in range(0, height, rows):
        band = image.crop((0, top, width, min(top + rows, height)))
        if band.mode != mode:
            band = _as(band, mode)
        if factor > 1:
            band = band.reduce(factor)
        small.paste(band, (0, top // factor))
    return small


def _as(band: Image.Image, mode: str) -> Image.Image:
    # Pillow converts 16- and 32-bit grey to RGB only through 8-bit grey.
    if band.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        band = band.convert("L")
    return band.convert(mode)
