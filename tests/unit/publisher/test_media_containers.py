"""Video and voice containers are walked to their last byte: a file that only starts like
an MP4, a WebM or an Ogg/Opus stream (a polyglot with HTML after the header, a truncated
or padded file, a page with a wrong checksum) is refused; whole files pass."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from typing import BinaryIO

import pytest

from services.publisher.media.containers import check_mp4, check_ogg_opus, check_webm
from services.publisher.media.containers.ogg import ogg_crc
from services.publisher.media.inspect import Unsupported, sniff_mime
from tests.support import media_samples as samples

Check = Callable[[BinaryIO, int], None]
VALID: dict[str, tuple[bytes, Check, str]] = {
    "mp4": (samples.mp4(), check_mp4, "video/mp4"),
    "webm": (samples.webm(), check_webm, "video/webm"),
    "webm as recorded in a browser": (samples.webm_streamed(), check_webm, "video/webm"),
    "ogg/opus": (samples.ogg_opus(), check_ogg_opus, "audio/ogg"),
}


def _check(check: Check, data: bytes) -> None:
    check(io.BytesIO(data), len(data))


@pytest.mark.parametrize("case", list(VALID))
def test_whole_containers_pass(case: str) -> None:
    data, check, mime = VALID[case]
    assert sniff_mime(data) == mime
    _check(check, data)


def _polyglots(data: bytes, header_end: int) -> dict[str, bytes]:
    return {
        "header then html": data[:header_end] + samples.HTML,
        "whole file then html": data + samples.HTML,
        "truncated": data[:-3],
        "header then zeros": data[:header_end] + bytes(256),
    }


HEADER_ENDS = {"mp4": 32, "webm": 40, "webm as recorded in a browser": 40, "ogg/opus": 47}


@pytest.mark.parametrize("case", list(VALID))
def test_a_container_header_followed_by_something_else_is_refused(case: str) -> None:
    data, check, mime = VALID[case]
    for name, hostile in _polyglots(data, HEADER_ENDS[case]).items():
        assert sniff_mime(hostile[:4096]) == mime, name  # the first bytes still pass
        with pytest.raises(Unsupported):
            _check(check, hostile)


def test_mp4_needs_its_movie_and_media_boxes() -> None:
    moov = samples.mp4_moov()
    mdat = samples.box(b"mdat", b"x" * 32)
    for data in (
        samples.mp4_ftyp() + mdat,  # no movie box
        samples.mp4_ftyp() + moov,  # no media data
        samples.mp4_ftyp() + samples.box(b"moov", b"") + mdat,  # an empty movie box
        moov + samples.mp4_ftyp() + mdat,  # ftyp not first
        samples.mp4_ftyp() + moov + samples.box(b"<htm", b"l>") + mdat,  # no box type
        samples.mp4_ftyp() + moov + struct.pack(">I", 4) + b"free" + mdat,  # size < header
    ):
        with pytest.raises(Unsupported):
            _check(check_mp4, data)
    # A 64-bit size and a last box running to the end are valid forms.
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 8) + b"12345678"
    _check(check_mp4, samples.mp4_ftyp() + moov + large)
    _check(check_mp4, samples.mp4_ftyp() + moov + struct.pack(">I4s", 0, b"mdat") + b"abc")


def test_mp4_box_count_is_bounded() -> None:
    free = samples.box(b"free", b"")
    data = samples.mp4() + free * 10_001
    with pytest.raises(Unsupported, match="boxes"):
        _check(check_mp4, data)


def test_webm_needs_the_webm_doc_type_and_its_segment_parts() -> None:
    info, tracks, cluster = samples.webm_body()
    cluster_element = samples.element(0x1F43B675, cluster)
    track_entry = samples.element(0xAE, b"")

    def segment(payload: bytes) -> bytes:
        return samples.element(0x18538067, payload)

    for data in (
        samples.webm_header(b"matroska") + segment(info + tracks + cluster_element),
        samples.webm_header() + segment(info + cluster_element),  # no tracks
        samples.webm_header() + segment(info + tracks),  # no cluster
        samples.webm_header() + segment(info + tracks + cluster_element) + samples.webm(),
        samples.webm_header() + samples.element(0x1654AE6B, tracks),  # no segment
        # An element the segment cannot hold (a Tracks' TrackEntry at the top level).
        samples.webm_header() + segment(info + tracks + cluster_element + track_entry),
    ):
        with pytest.raises(Unsupported):
            _check(check_webm, data)


def test_ogg_pages_are_checked_one_by_one() -> None:
    head = samples.ogg_page(samples.OPUS_HEAD, sequence=0, flags=0x02)
    tags = samples.ogg_page(samples.OPUS_TAGS, sequence=1)
    audio = samples.ogg_page(samples.OPUS_SILENCE, sequence=2, granule=1272, flags=0x04)
    vorbis = samples.ogg_page(b"\x01vorbis" + bytes(23), sequence=0, flags=0x02)
    flipped = bytearray(head + tags + audio)
    flipped[-1] ^= 0x01  # one bit of audio: the page's checksum no longer matches
    for data in (
        bytes(flipped),
        head + audio,  # no OpusTags
        head + tags + samples.ogg_page(samples.OPUS_SILENCE, sequence=3),  # a gap
        head + tags + samples.ogg_page(samples.OPUS_SILENCE, sequence=2, serial=7),  # 2 streams
        head + tags + audio + samples.ogg_page(samples.OPUS_SILENCE, sequence=3),  # after end
        head + samples.ogg_page(samples.OPUS_TAGS, sequence=1, flags=0x02),  # a second BOS
        vorbis + tags,  # Vorbis, not Opus
        head,
    ):
        with pytest.raises(Unsupported):
            _check(check_ogg_opus, data)
    # Without an end-of-stream flag the stream is still whole.
    _check(check_ogg_opus, head + tags + samples.ogg_page(samples.OPUS_SILENCE, sequence=2))


def test_ogg_crc_matches_the_bitwise_definition() -> None:
    for length in (0, 1, 27, 255, 4096):
        data = os.urandom(length)
        assert ogg_crc(data) == samples.ogg_crc(data)
