"""Image decompression bombs: a few KiB that decode to hundreds of MB are refused from
their header (413, nothing stored), and the largest images the publisher accepts keep its
memory bounded, one at a time and in a burst, and given back afterwards. The upload form
itself is bounded too: a part's headers, and the number of parts.

Memory is read from the publisher's own process (`/proc/<pid>/status`): VmRSS now, VmHWM
the peak since it was last reset (writing 5 to `/proc/<pid>/clear_refs`). Measured on a
loaded 2-core machine: one largest WebP grew the publisher by 100 MiB at its peak, eight
at once by 214 MiB, and 17 MiB was left after the burst (before the fix: 128, 758, 385).
"""

from __future__ import annotations

import asyncio
import functools
import io
import re
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
from PIL import Image

from services.publisher.media.images import MAX_WEBP_PHOTO
from tests.integration.publisher.conftest import create_channel, image_bytes, upload
from tests.support.media_samples import zlib_png
from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

MIB = 1024 * 1024
# Issue 19's bounds: growth of the publisher's resident memory over its baseline.
ONE_IMAGE_PEAK = 150 * MIB
EIGHT_IMAGES_PEAK = 400 * MIB
AFTER_BURST = 100 * MIB


@functools.cache
def webp_bomb() -> bytes:
    """7000x7000 black pixels, lossless: about 2 KB, 196 MB decoded."""
    out = io.BytesIO()
    Image.new("RGB", (7000, 7000)).save(out, "WEBP", lossless=True, method=0)
    return out.getvalue()


def largest_webp(variant: int) -> bytes:
    """The most memory-hungry photo accepted: a lossless RGBA WebP at the WebP limit
    (WebP costs the most per decoded pixel). `variant` makes each file distinct."""
    out = io.BytesIO()
    Image.new("RGBA", MAX_WEBP_PHOTO, (variant, 90, 160, 200)).save(
        out, "WEBP", lossless=True, method=0
    )
    return out.getvalue()


def _media_files(media_dir: str) -> set[Path]:
    return {path for path in Path(media_dir).rglob("*") if path.is_file()}


async def test_image_bombs_are_refused_and_nothing_is_stored(
    pub: httpx.AsyncClient, db: asyncpg.Pool, stack: StackSlice
) -> None:
    channel = await create_channel(pub)
    files_before = _media_files(stack.media_dir)
    bombs: dict[str, tuple[bytes, str | None]] = {
        "7000x7000 lossless webp": (webp_bomb(), None),
        "7000x7000 all-zero png": (zlib_png(7000, 7000), None),
        "7000x7000 webp as a sticker": (webp_bomb(), "sticker"),
    }
    for name, (data, kind) in bombs.items():
        assert len(data) < 512 * 1024, name  # small on the wire: only the header says big
        response = await upload(pub, channel, data, "bomb.webp", kind=kind)
        assert response.status_code == 413, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "7000x7000" in response.json()["detail"], name
    stored = await db.fetchval(
        "SELECT count(*) FROM media WHERE channel_id = $1", UUID(channel.channel_id)
    )
    assert stored == 0
    assert _media_files(stack.media_dir) == files_before


async def test_oversized_form_part_headers_and_many_parts_are_refused(
    pub: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    channel = await create_channel(pub)
    boundary = "herald-boundary"
    png = image_bytes("PNG")

    def part(headers: bytes, body: bytes) -> bytes:
        return b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + body + b"\r\n"

    file_part = part(b'Content-Disposition: form-data; name="file"; filename="a.png"', png)
    bodies = {
        # One part header of 4 MiB: the multipart parser refuses it (400), see below.
        "huge part header": part(
            b'Content-Disposition: form-data; name="file"; filename="' + b"a" * (4 * MIB) + b'"',
            png,
        ),
        # Thousands of tiny parts before the file.
        "many parts": part(b'Content-Disposition: form-data; name="kind"', b"photo") * 5000
        + file_part,
    }
    for name, body in bodies.items():
        response = await pub.post(
            f"/v1/channels/{channel.channel_id}/media",
            content=body + b"--" + boundary.encode() + b"--\r\n",
            headers={
                **auth(channel.owner),
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        expected = 400 if name == "huge part header" else 422
        assert response.status_code == expected, (name, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    stored = await db.fetchval(
        "SELECT count(*) FROM media WHERE channel_id = $1", UUID(channel.channel_id)
    )
    assert stored == 0


def _status_bytes(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB$", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def test_largest_images_keep_publisher_memory_bounded(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    # A publisher of its own: the session's serves other tests, whose work would show here.
    publisher = await spawn_service("publisher").start()
    assert publisher.proc is not None
    pid = publisher.proc.pid
    images = [largest_webp(variant) for variant in range(9)]
    async with httpx.AsyncClient(base_url=publisher.base_url, timeout=300) as http:
        channel = await create_channel(http)
        # Warm up: the first upload loads the image libraries and opens connections.
        warm = await upload(http, channel, image_bytes("WEBP", (64, 64)), "warm.webp")
        assert warm.status_code == 201, warm.text
        baseline = _status_bytes(pid, "VmRSS")

        _reset_peak(pid)
        one = await upload(http, channel, images[0], "largest.webp")
        assert one.status_code == 201, one.text
        assert (one.json()["width"], one.json()["height"]) == MAX_WEBP_PHOTO
        one_peak = _status_bytes(pid, "VmHWM") - baseline

        _reset_peak(pid)
        burst = await asyncio.gather(
            *(upload(http, channel, data, f"burst-{i}.webp") for i, data in enumerate(images[1:]))
        )
        assert [response.status_code for response in burst] == [201] * 8
        burst_peak = _status_bytes(pid, "VmHWM") - baseline
        after = _status_bytes(pid, "VmRSS") - baseline

    report = f"growth in MiB: one {one_peak / MIB:.0f}, eight {burst_peak / MIB:.0f}"
    report += f", after {after / MIB:.0f}"
    print(report)  # shown with -s: the measured figures
    assert one_peak <= ONE_IMAGE_PEAK, report
    assert burst_peak <= EIGHT_IMAGES_PEAK, report
    assert after <= AFTER_BURST, report
