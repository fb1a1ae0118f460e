"""WebM (a Matroska profile, built on EBML): the file is an EBML header declaring the
`webm` doc type, then one Segment running to the end of the file, whose elements are the
known top-level ones (SeekHead, Info, Tracks, Cluster, Cues, …), each with a size that
fits; Info, Tracks and at least one Cluster are required.

A recorder that streams (a browser's MediaRecorder) writes the Segment and its Clusters
with an unknown size: such a Cluster's children are walked until the next top-level
element. Other payloads are skipped, not read; the element count is capped.
"""

from __future__ import annotations

from typing import BinaryIO

from services.publisher.media.inspect import Unsupported

EBML = 0x1A45DFA3
DOC_TYPE = 0x4282
DOC_TYPE_READ_VERSION = 0x4285
EBML_READ_VERSION = 0x42F7
SEGMENT = 0x18538067
INFO = 0x1549A966
TRACKS = 0x1654AE6B
CLUSTER = 0x1F43B675
VOID = 0xEC
CRC32 = 0xBF
# Children of a Segment (Matroska level 1).
_TOP_LEVEL = {
    0x114D9B74,  # SeekHead
    INFO,
    TRACKS,
    CLUSTER,
    0x1C53BB6B,  # Cues
    0x1043A770,  # Chapters
    0x1254C367,  # Tags
    0x1941A469,  # Attachments
    VOID,
    CRC32,
}
# Children of a Cluster.
_CLUSTER_CHILDREN = {
    0xE7,  # Timestamp
    0x5854,  # SilentTracks
    0xA7,  # Position
    0xAB,  # PrevSize
    0xA3,  # SimpleBlock
    0xA0,  # BlockGroup
    0xAF,  # EncryptedBlock
    VOID,
    CRC32,
}
# The EBML header is a few dozen bytes.
_MAX_HEADER = 1024
# A Cluster of unknown size is walked block by block: 30 fps video and 50 Opus frames
# per second make ~80 blocks a second, so 200,000 elements is about 40 minutes, far
# more than 64 MiB of browser-recorded video (~3.5 minutes at its default 2.5 Mbit/s).
# The walk costs a few microseconds per element.
MAX_ELEMENTS = 200_000
UNKNOWN = -1


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size
        self.elements = 0

    def element(self, position: int) -> tuple[int, int, int]:
        """(id, payload start, payload size or UNKNOWN) of the element at `position`."""
        self.elements += 1
        if self.elements > MAX_ELEMENTS:
            raise _invalid(f"it has more than {MAX_ELEMENTS} elements")
        self.f.seek(position)
        head = self.f.read(12)
        id_length = _vint_length(head[:1], 4)
        if len(head) < id_length:
            raise _invalid("an element is cut short")
        element_id = int.from_bytes(head[:id_length], "big")
        size_length = _vint_length(head[id_length : id_length + 1], 8)
        raw = head[id_length : id_length + size_length]
        if len(raw) < size_length:
            raise _invalid("an element is cut short")
        value = int.from_bytes(raw, "big") & ((1 << (7 * size_length)) - 1)
        payload_size = UNKNOWN if value == (1 << (7 * size_length)) - 1 else value
        start = position + id_length + size_length
        if payload_size != UNKNOWN and start + payload_size > self.size:
            raise _invalid("an element's size does not fit the file")
        return element_id, start, payload_size

    def read(self, start: int, size: int) -> bytes:
        self.f.seek(start)
        return self.f.read(size)


def check_webm(f: BinaryIO, size: int) -> None:
    """Raise `Unsupported` unless `f` (of `size` bytes) is a well-formed WebM file."""
    reader = _Reader(f, size)
    element_id, start, header_size = reader.element(0)
    if element_id != EBML or header_size == UNKNOWN or header_size > _MAX_HEADER:
        raise _invalid("it must start with an EBML header")
    _check_header(reader, start, start + header_size)
    element_id, start, segment_size = reader.element(start + header_size)
    if element_id != SEGMENT:
        raise _invalid("a Segment must follow the EBML header")
    if segment_size != UNKNOWN and start + segment_size != size:
        raise _invalid("the Segment must run to the end of the file")
    seen = _walk_segment(reader, start)
    if not {INFO, TRACKS, CLUSTER} <= seen:
        raise _invalid("it needs segment information, tracks and at least one cluster")


def _check_header(reader: _Reader, position: int, end: int) -> None:
    doc_type = b""
    while position < end:
        element_id, start, size = reader.element(position)
        if size == UNKNOWN or start + size > end:
            raise _invalid("the EBML header is malformed")
        if element_id == DOC_TYPE:
            doc_type = reader.read(start, size).rstrip(b"\0")
        elif element_id in (EBML_READ_VERSION, DOC_TYPE_READ_VERSION):
            version = int.from_bytes(reader.read(start, size), "big") if size <= 8 else 99
            # EBML 1; WebM's doc type read versions are 1 and 2.
            if version > (1 if element_id == EBML_READ_VERSION else 2):
                raise _invalid("it needs a newer reader than WebM's")
        position = start + size
    if doc_type != b"webm":
        raise _invalid("its EBML header does not declare the webm doc type")


def _walk_segment(reader: _Reader, position: int) -> set[int]:
    seen: set[int] = set()
    while position < reader.size:
        element_id, start, size = reader.element(position)
        if element_id not in _TOP_LEVEL:
            raise _invalid("the Segment holds an element WebM does not define there")
        seen.add(element_id)
        if size != UNKNOWN:
            position = start + size
        elif element_id == CLUSTER:
            position = _walk_open_cluster(reader, start)
        else:
            raise _invalid("only a Segment and its Clusters may have an unknown size")
    return seen


def _walk_open_cluster(reader: _Reader, position: int) -> int:
    """Where a Cluster of unknown size ends: at the next top-level element or the end."""
    while position < reader.size:
        element_id, start, size = reader.element(position)
        if element_id in _TOP_LEVEL - {VOID, CRC32}:
            reader.elements -= 1  # read again as the Segment's next child
            return position
        if element_id not in _CLUSTER_CHILDREN or size == UNKNOWN:
            raise _invalid("a Cluster holds an element WebM does not define there")
        position = start + size
    return position


def _vint_length(first: bytes, longest: int) -> int:
    """The length of an EBML variable-size integer from its first byte: one more than
    the count of its leading zero bits."""
    if not first or first[0] == 0:
        raise _invalid("an element is cut short or malformed")
    length = 9 - first[0].bit_length()
    if length > longest:
        raise _invalid("an element's id or size is malformed")
    return length


def _invalid(reason: str) -> Unsupported:
    return Unsupported(f"the bytes are not a valid WebM video: {reason}")
