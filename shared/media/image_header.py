"""An image's width and height read from its header, before any pixel is decoded.

Decoding is what costs memory (a lossless WebP of a few KiB can declare 7000x7000 pixels,
about 200 MB once decoded), so the pixel limit is checked here first, on the bytes the
decoder would trust. Pillow also reads these fields, but its WebP plugin allocates the
decoder's canvases while opening, so the check cannot wait for `Image.open`.

`jpeg_scan_count` counts a JPEG's scans: libjpeg decodes a progressive JPEG once per scan
over the whole image, so thousands of tiny scans make a CPU bomb out of a small file.

Used by the publisher before it accepts an image and by web before it thumbnails one.
"""

from __future__ import annotations

import struct
from typing import BinaryIO


class ImageHeaderError(ValueError):
    """No well-formed header of the image type expected."""


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the
# range but are not frames.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers without a length field: TEM and RST0-7.
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# A JPEG walks at most this many segments before its frame header: real files have a
# handful (APPn, DQT, DHT); more is a crafted file.
_JPEG_MAX_SEGMENTS = 256
_SOS = b"\xff\xda"
_SCAN_CHUNK = 1024 * 1024


def image_dimensions(f: BinaryIO, mime: str) -> tuple[int, int]:
    """(width, height) as the header of the image in `f` (of type `mime`: image/png,
    image/jpeg or image/webp) declares them; raise `ImageHeaderError` when there is no
    well-formed header. Reads a few KiB at most."""
    f.seek(0)
    if mime == "image/png":
        return _png(f.read(24))
    if mime == "image/webp":
        return _webp(f.read(30))
    if mime == "image/jpeg":
        return _jpeg(f)
    raise ImageHeaderError(f"{mime} is not an image type")


def jpeg_scan_count(f: BinaryIO) -> int:
    """How many scans (start-of-scan markers) the JPEG in `f` has, at most: FF DA cannot
    occur inside entropy-coded data (an FF there is followed by 00 or a restart marker),
    so the count is exact for a well-formed file plus any embedded thumbnail's scans."""
    f.seek(0)
    count = 0
    carry = b""
    while chunk := f.read(_SCAN_CHUNK):
        data = carry + chunk
        count += data.count(_SOS)
        # A marker split across two reads is counted with the next read.
        carry = data[-1:] if data[-1:] == b"\xff" else b""
    return count


def _png(head: bytes) -> tuple[int, int]:
    # The first chunk of every PNG is IHDR (13 bytes: width, height, ...).
    if len(head) < 24 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ImageHeaderError("the bytes are not a valid image/png image")
    width, height = struct.unpack(">II", head[16:24])
    return _checked(width, height, "image/png")


def _webp(head: bytes) -> tuple[int, int]:
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        raise ImageHeaderError("the bytes are not a valid image/webp image")
    chunk = head[12:16]
    if chunk == b"VP8X":
        # Extended format: the canvas size, 24 bits each, stored minus one.
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
    elif chunk == b"VP8L" and head[20] == 0x2F:
        # Lossless: after the signature byte, 14 bits each, stored minus one.
        bits = int.from_bytes(head[21:25], "little")
        width = (bits & 0x3FFF) + 1
        height = ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        # Lossy key frame: 14 bits each after the start code (the top 2 bits scale).
        width = int.from_bytes(head[26:28], "little") & 0x3FFF
        height = int.from_bytes(head[28:30], "little") & 0x3FFF
    else:
        raise ImageHeaderError("the bytes are not a valid image/webp image")
    return _checked(width, height, "image/webp")


def _jpeg(f: BinaryIO) -> tuple[int, int]:
    invalid = ImageHeaderError("the bytes are not a valid image/jpeg image")
    if f.read(2) != b"\xff\xd8":
        raise invalid
    for _ in range(_JPEG_MAX_SEGMENTS):
        byte = f.read(1)
        if byte != b"\xff":
            raise invalid
        marker = 0xFF
        while marker == 0xFF:  # fill bytes may precede a marker
            read = f.read(1)
            if not read:
                raise invalid
            marker = read[0]
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0x00, 0xD8, 0xD9, 0xDA):  # no frame before data or the end
            raise invalid
        raw = f.read(2)
        if len(raw) < 2:
            raise invalid
        (length,) = struct.unpack(">H", raw)
        if length < 2:
            raise invalid
        if marker in _JPEG_SOF:
            frame = f.read(5)
            if len(frame) < 5:
                raise invalid
            height, width = struct.unpack(">HH", frame[1:5])
            return _checked(width, height, "image/jpeg")
        f.seek(length - 2, 1)
    raise invalid


def _checked(width: int, height: int, mime: str) -> tuple[int, int]:
    # A zero height means "defined later" (JPEG's DNL) or nothing at all: refuse both.
    if width <= 0 or height <= 0:
        raise ImageHeaderError(f"the bytes are not a valid {mime} image")
    return width, height
