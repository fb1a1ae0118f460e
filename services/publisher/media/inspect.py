"""What an uploaded file is, decided from its bytes only — never the client's file name or
Content-Type.

puremagic names the container from the leading bytes; each answer is then verified:
images are decoded by Pillow (format, size, a thumbnail), MP4 must carry a video brand
(not HEIF/AVIF images or M4A audio), WebM's EBML header must declare the `webm` doctype,
and Ogg must carry Opus (voice notes are Ogg/Opus only).

Kinds and limits (DESIGN.md): photo jpeg/png/webp ≤ 16 MiB, video mp4/webm ≤ 64 MiB,
sticker webp ≤ 512 KiB, voice ogg/opus ≤ 16 MiB. A WebP is a photo unless the upload asks
for `kind=sticker`; any other requested kind must match what the bytes are.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import puremagic
from PIL import Image, ImageOps

from shared.events.content import MediaKind

KIB = 1024
MIB = 1024 * KIB
LIMITS: dict[MediaKind, int] = {
    MediaKind.PHOTO: 16 * MIB,
    MediaKind.VIDEO: 64 * MIB,
    MediaKind.STICKER: 512 * KIB,
    MediaKind.VOICE: 16 * MIB,
}
MAX_UPLOAD_BYTES = max(LIMITS.values())
# Enough leading bytes for every container signature we accept.
SNIFF_BYTES = 4096
# Refuse decompression bombs long before Pillow's own (warning-only) threshold.
MAX_PIXELS = 50_000_000
THUMBNAIL_EDGE = 320

KIND_BY_MIME: dict[str, MediaKind] = {
    "image/jpeg": MediaKind.PHOTO,
    "image/png": MediaKind.PHOTO,
    "image/webp": MediaKind.PHOTO,
    "video/mp4": MediaKind.VIDEO,
    "video/webm": MediaKind.VIDEO,
    "audio/ogg": MediaKind.VOICE,
}
_PILLOW_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
# ISO-BMFF brands that are not video: HEIF/AVIF stills, M4A/M4B audio books, QuickTime.
_NOT_VIDEO_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"M4A ", b"M4B "}


class Unsupported(Exception):
    """Not a type Herald accepts, or not the kind asked for (415)."""


class TooLarge(Exception):
    """Over the limit of its kind (413)."""


@dataclass(frozen=True)
class Inspected:
    kind: MediaKind
    mime: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


def sniff_mime(head: bytes) -> str:
    """The accepted MIME type of a file starting with `head`, or raise `Unsupported`."""
    try:
        names = {match.mime_type for match in puremagic.magic_string(head)}
    except (puremagic.PureError, ValueError):
        raise Unsupported("the file's type could not be recognised") from None
    for mime in ("image/jpeg", "image/png", "image/webp"):
        if mime in names:
            return mime
    if "video/mp4" in names and head[4:8] == b"ftyp" and head[8:12] not in _NOT_VIDEO_BRANDS:
        return "video/mp4"
    if names & {"video/webm", "application/x-matroska"} and b"\x42\x82\x84webm" in head[:64]:
        return "video/webm"
    if names & {"application/ogg", "audio/ogg"} and b"OpusHead" in head[:128]:
        return "audio/ogg"
    raise Unsupported(
        "accepted types: JPEG, PNG, WebP images; MP4 or WebM video; Ogg/Opus voice notes"
    )


def resolve_kind(mime: str, requested: MediaKind | None) -> MediaKind:
    natural = KIND_BY_MIME[mime]
    if requested is None or requested is natural:
        return natural
    if requested is MediaKind.STICKER and mime == "image/webp":
        return MediaKind.STICKER
    raise Unsupported(f"a {mime} file cannot be uploaded as a {requested}")


def check_size(kind: MediaKind, size: int) -> None:
    if size > LIMITS[kind]:
        raise TooLarge(f"a {kind} may be at most {LIMITS[kind]} bytes")


def inspect_image(path: Path, mime: str, thumbnail: bool) -> tuple[int, int, bytes | None]:
    """Decode the image fully (a truncated or forged file fails here); return its size and,
    if asked, a JPEG thumbnail of at most THUMBNAIL_EDGE pixels per side. Blocking: run
    it in a thread."""
    try:
        with Image.open(path) as image:
            if image.format != _PILLOW_FORMAT[mime]:
                raise Unsupported(f"the bytes are not a valid {mime} image")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise Unsupported(f"images may have at most {MAX_PIXELS} pixels")
            image.load()
            if not thumbnail:
                return width, height, None
            small = ImageOps.exif_transpose(image)
            small.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
            if small.mode != "RGB":
                small = small.convert("RGB")
            out = io.BytesIO()
            small.save(out, "JPEG", quality=80)
            return width, height, out.getvalue()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise Unsupported(f"the bytes are not a valid {mime} image") from exc
