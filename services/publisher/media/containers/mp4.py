"""MP4 (ISO base media file format): the file is a sequence of boxes covering it exactly,
`ftyp` first; each box has a 4-character alphanumeric type and a size that fits; there is a
`moov` (with its `mvhd` header and at least one `trak`) and at least one `mdat`.

Box payloads are skipped, not read: work is one read per box, and the box count is capped.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from services.publisher.media.inspect import Unsupported

# A progressive MP4 has a handful of top-level boxes; a fragmented one a `moof` and an
# `mdat` per fragment (a few seconds each): 10,000 is hours of fragments.
MAX_BOXES = 10_000
# `moov` holds a header, a track per stream and a few metadata boxes.
MAX_MOOV_CHILDREN = 1_000
# Box types at the levels walked here (file, movie) are letters, digits and spaces
# (`ftyp`, `moov`, `mdat`, `url `); others (`©nam`) only occur deeper, in metadata.
_BOX_TYPE_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")


def check_mp4(f: BinaryIO, size: int) -> None:
    """Raise `Unsupported` unless `f` (of `size` bytes) is a well-formed MP4 file."""
    seen: set[bytes] = set()
    for index, (kind, start, end) in enumerate(_boxes(f, 0, size, MAX_BOXES)):
        if index == 0 and (kind != b"ftyp" or end - start < 8 or (end - start) % 4):
            raise _invalid("it must start with a file type (ftyp) box")
        if kind == b"moov":
            children = {child for child, _, _ in _boxes(f, start, end, MAX_MOOV_CHILDREN)}
            if not {b"mvhd", b"trak"} <= children:
                raise _invalid("its movie box lacks a header or a track")
        seen.add(kind)
    if not {b"ftyp", b"moov", b"mdat"} <= seen:
        raise _invalid("it needs a movie box (moov) and media data (mdat)")


def _boxes(f: BinaryIO, start: int, end: int, limit: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box from `start` to exactly `end`."""
    found: list[tuple[bytes, int, int]] = []
    position = start
    while position < end:
        if len(found) == limit:
            raise _invalid(f"it has more than {limit} boxes")
        f.seek(position)
        header = f.read(8)
        if len(header) < 8:
            raise _invalid("a box header is cut short")
        box_size, kind = struct.unpack(">I4s", header)
        header_size = 8
        if box_size == 1:  # a 64-bit size follows the type
            large = f.read(8)
            if len(large) < 8:
                raise _invalid("a box header is cut short")
            (box_size,) = struct.unpack(">Q", large)
            header_size = 16
        elif box_size == 0:  # the last box runs to the end
            box_size = end - position
        if box_size < header_size or position + box_size > end:
            raise _invalid("a box's size does not fit the file")
        if not all(byte in _BOX_TYPE_BYTES for byte in kind):
            raise _invalid("a box type is not four letters, digits or spaces")
        found.append((kind, position + header_size, position + box_size))
        position += box_size
    return found


def _invalid(reason: str) -> Unsupported:
    return Unsupported(f"the bytes are not a valid MP4 video: {reason}")
