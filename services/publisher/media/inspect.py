"""What an uploaded file is, decided from its bytes only — never the client's file name or
Content-Type.

puremagic names the container from the leading bytes; each answer is then checked:
MP4 must carry a video brand (not HEIF/AVIF images or M4A audio), WebM's EBML header must
declare the `webm` doctype, and Ogg must carry Opus (voice notes are Ogg/Opus only). The
whole file is verified after the upload (`verify`): images decoded within a pixel limit,
containers walked to their last byte.

Kinds and limits (DESIGN.md): photo jpeg/png/webp ≤ 16 MiB, video mp4/webm ≤ 64 MiB,
sticker webp ≤ 512 KiB, voice ogg/opus ≤ 16 MiB. A WebP is a photo unless the upload asks
for `kind=sticker`; any other requested kind must match what the bytes are.
"""

from __future__ import annotations

from dataclasses import dataclass

import puremagic

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

KIND_BY_MIME: dict[str, MediaKind] = {
    "image/jpeg": MediaKind.PHOTO,
    "image/png": MediaKind.PHOTO,
    "image/webp": MediaKind.PHOTO,
    "video/mp4": MediaKind.VIDEO,
    "video/webm": MediaKind.VIDEO,
    "audio/ogg": MediaKind.VOICE,
}
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
