"""Ogg/Opus (RFC 3533, RFC 7845): the file is a sequence of pages, each `OggS`, version 0,
a segment table and a body, with a valid CRC; one logical stream whose pages are numbered
from 0 without gaps; its first page (beginning of stream) holds the `OpusHead` packet
alone, its second page starts with `OpusTags`. Nothing may follow the end-of-stream page.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from services.publisher.media.inspect import Unsupported

_HEADER = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seq, crc, n
_FLAGS = 0x07  # continued packet, beginning of stream, end of stream
_BOS = 0x02
_EOS = 0x04
# A voice note encoder writes a page per ~1 s of audio (at most one per 20 ms frame):
# 100,000 pages is half an hour even at that most; the cap bounds the walk.
MAX_PAGES = 100_000
# Ogg's CRC-32 is the MSB-first variant (polynomial 0x04C11DB7, initial 0, no final xor);
# zlib's is LSB-first. The MSB-first CRC of some bytes is the bit-reversed LSB-first
# CRC (initial 0) of the bytes with their bits reversed, so zlib does it at C speed.
_REVERSE_BITS = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc(data: bytes) -> int:
    """The CRC of an Ogg page (`data` with its CRC field zeroed)."""
    reflected = zlib.crc32(data.translate(_REVERSE_BITS), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def check_ogg_opus(f: BinaryIO, size: int) -> None:
    """Raise `Unsupported` unless `f` (of `size` bytes) is one well-formed Ogg/Opus
    stream, page by page to its last byte."""
    f.seek(0)
    position = 0
    serial: int | None = None
    ended = False
    for number in range(MAX_PAGES + 1):
        if position == size:
            if number < 2:
                raise _invalid("an Opus stream needs its OpusHead and OpusTags pages")
            return
        if number == MAX_PAGES:
            break
        if ended:
            raise _invalid("data follows the end of the stream")
        header = f.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise _invalid("a page is cut short")
        capture, version, flags, _, page_serial, sequence, crc, segments = _HEADER.unpack(header)
        if capture != b"OggS" or version != 0 or flags & ~_FLAGS:
            raise _invalid("a page does not start with a valid Ogg page header")
        lacing = f.read(segments)
        body_size = sum(lacing)
        body = f.read(body_size)
        if len(lacing) < segments or len(body) < body_size:
            raise _invalid("a page is cut short")
        page = header[:22] + b"\0\0\0\0" + header[26:] + lacing + body
        if ogg_crc(page) != crc:
            raise _invalid("a page's checksum does not match")
        if serial is None:
            serial = page_serial
        if page_serial != serial or sequence != number:
            raise _invalid("pages must be one stream, numbered without gaps")
        if bool(flags & _BOS) != (number == 0):
            raise _invalid("only the first page may begin the stream")
        if number == 0:
            _check_opus_head(body, lacing)
        elif number == 1 and (flags & 0x01 or not body.startswith(b"OpusTags")):
            raise _invalid("the second page must start with OpusTags")
        ended = bool(flags & _EOS)
        position += len(page)
    raise _invalid(f"a voice note may have at most {MAX_PAGES} Ogg pages")


def _check_opus_head(body: bytes, lacing: bytes) -> None:
    # The identification header is alone on its page: one packet, complete.
    if not lacing or lacing[-1] == 255 or any(value < 255 for value in lacing[:-1]):
        raise _invalid("the first page must hold the OpusHead packet alone")
    if len(body) < 19 or not body.startswith(b"OpusHead"):
        raise _invalid("the first page must hold the OpusHead packet")
    # Version: a major version other than 0 is incompatible; at least one channel.
    if body[8] & 0xF0 or body[9] == 0:
        raise _invalid("the OpusHead packet is not valid")


def _invalid(reason: str) -> Unsupported:
    return Unsupported(f"the bytes are not a valid Ogg/Opus voice note: {reason}")
