"""Small, structurally valid media files built by hand, and hostile look-alikes.

No encoder is needed: each container's framing is written field by field from its
specification (ISO/IEC 14496-12 boxes, Matroska/EBML elements, Ogg pages per RFC 3533 with
an Opus stream per RFC 7845). The MP4 and WebM payloads are token bytes, so players may
not render them, but every container-level field a parser checks is as a real muxer
writes it; the Ogg/Opus stream is real (Chromium decodes `ogg_opus(50)` to 0.99 s of
silence). Recordings of Chromium's MediaRecorder (WebM with unknown sizes, fragmented
MP4) pass the publisher's checks the same way as these.

`ogg_crc` is written out bit by bit here, independent of the publisher's table-free
version, so each checks the other.
"""

from __future__ import annotations

import struct
import zlib

HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


# --- MP4 -------------------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def mp4_ftyp(major: bytes = b"isom") -> bytes:
    return box(b"ftyp", major + struct.pack(">I", 512) + b"isomiso2avc1mp41")


def mp4_moov() -> bytes:
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, 1000, 1000)  # times, timescale, duration
        + struct.pack(">IH", 0x10000, 0x100)  # rate 1.0, volume 1.0
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),  # next track id
    )
    tkhd = full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, 1, 0, 1000)
        + bytes(8)
        + struct.pack(">hhhH", 0, 0, 0, 0)
        + matrix
        + struct.pack(">II", 16 << 16, 16 << 16),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, 1000, 1000, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, bytes(4) + b"vide" + bytes(12) + b"VideoHandler\0")
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 0))
        + full_box(b"stts", 0, 0, struct.pack(">I", 0))
        + full_box(b"stsc", 0, 0, struct.pack(">I", 0))
        + full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0))
        + full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )
    url = full_box(b"url ", 0, 1, b"")  # media data in this file
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1) + url))
    minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)) + dinf + stbl)
    trak = box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + minf))
    return box(b"moov", mvhd + trak)


def mp4(payload: bytes = b"\x00\x00\x00\x02\x09\xf0" * 8) -> bytes:
    """ftyp, moov (movie header, one video track), mdat."""
    return mp4_ftyp() + mp4_moov() + box(b"mdat", payload)


# --- WebM ------------------------------------------------------------------------------

UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def ebml_size(n: int) -> bytes:
    """The shortest encoding, as muxers write it (all ones is reserved for "unknown")."""
    length = 1
    while n >= (1 << (7 * length)) - 1:
        length += 1
    return (n | (1 << (7 * length))).to_bytes(length, "big")


def element(element_id: int, payload: bytes) -> bytes:
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return id_bytes + ebml_size(len(payload)) + payload


def _uint(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def webm_header(doc_type: bytes = b"webm") -> bytes:
    return element(
        0x1A45DFA3,
        _uint(0x4286, 1)  # EBMLVersion
        + _uint(0x42F7, 1)  # EBMLReadVersion
        + _uint(0x42F2, 4)  # EBMLMaxIDLength
        + _uint(0x42F3, 8)  # EBMLMaxSizeLength
        + element(0x4282, doc_type)
        + _uint(0x4287, 4)  # DocTypeVersion
        + _uint(0x4285, 2),  # DocTypeReadVersion
    )


def webm_body() -> tuple[bytes, bytes, bytes]:
    """(Info, Tracks, Cluster payload) of one VP8 video track with one key frame."""
    info = element(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000)  # TimestampScale
        + element(0x4D80, b"herald-tests")  # MuxingApp
        + element(0x5741, b"herald-tests"),  # WritingApp
    )
    video = element(0xE0, _uint(0xB0, 16) + _uint(0xBA, 16))  # PixelWidth, PixelHeight
    entry = element(
        0xAE,
        _uint(0xD7, 1)  # TrackNumber
        + _uint(0x73C5, 1)  # TrackUID
        + _uint(0x83, 1)  # TrackType: video
        + element(0x86, b"V_VP8")
        + video,
    )
    tracks = element(0x1654AE6B, entry)
    # Track 1, time 0, key frame; then a VP8 key frame header of 16x16 pixels.
    key_frame = b"\x81\x00\x00\x80" + b"\x50\x01\x00\x9d\x01\x2a\x10\x00\x10\x00" + bytes(16)
    cluster = _uint(0xE7, 0) + element(0xA3, key_frame)
    return info, tracks, cluster


def webm() -> bytes:
    """EBML header, then a Segment of known size: Info, Tracks, one Cluster."""
    info, tracks, cluster = webm_body()
    return webm_header() + element(0x18538067, info + tracks + element(0x1F43B675, cluster))


def webm_streamed() -> bytes:
    """As a browser's MediaRecorder writes it: Segment and Clusters of unknown size."""
    info, tracks, cluster = webm_body()
    segment = info + tracks + (b"\x1f\x43\xb6\x75" + UNKNOWN_SIZE + cluster) * 2
    return webm_header() + b"\x18\x53\x80\x67" + UNKNOWN_SIZE + segment


# --- Ogg/Opus --------------------------------------------------------------------------


def ogg_crc(data: bytes) -> int:
    """CRC-32 of an Ogg page, MSB first, polynomial 0x04C11DB7, initial 0, no final xor."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_page(
    packet: bytes, *, sequence: int, flags: int = 0, granule: int = 0, serial: int = 0x4A1D
) -> bytes:
    """One page holding one whole packet."""
    lacing = bytes([255] * (len(packet) // 255) + [len(packet) % 255])
    header = struct.pack("<4sBBqIII", b"OggS", 0, flags, granule, serial, sequence, 0)
    page = header + bytes([len(lacing)]) + lacing + packet
    return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]


OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
OPUS_TAGS = b"OpusTags" + struct.pack("<I", 12) + b"herald-tests" + struct.pack("<I", 0)
# A 20 ms CELT frame of silence, as encoders write for digital silence.
OPUS_SILENCE = b"\xf8\xff\xfe"


def ogg_opus(frames: int = 3) -> bytes:
    """An Opus stream: OpusHead page (beginning of stream), OpusTags page, one audio page
    of `frames` 20 ms silent frames (end of stream)."""
    audio = b"".join(
        ogg_page(
            OPUS_SILENCE,
            sequence=2 + i,
            granule=312 + 960 * (i + 1),
            flags=0x04 if i == frames - 1 else 0,
        )
        for i in range(frames)
    )
    return ogg_page(OPUS_HEAD, sequence=0, flags=0x02) + ogg_page(OPUS_TAGS, sequence=1) + audio


def zlib_png(width: int, height: int) -> bytes:
    """An all-black RGB PNG of any size, compressed row by row (the decoded size is never
    held in memory): a decompression bomb when large."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, then black pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
