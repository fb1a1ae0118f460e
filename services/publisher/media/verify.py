"""Verify an uploaded file's content beyond its first bytes, a few files at a time.

Images are decoded (`images`), videos and voice notes have their container walked
(`containers`). The work runs in worker threads, at most `DECODE_SLOTS` at once: each
image decode may take ~100 MB for a moment, and unbounded parallel decodes multiplied
that by the number of concurrent uploads. Heap memory freed by a large decode is handed
back to the system (`shared.media.memory`) so a burst does not leave the process larger.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from services.publisher.media.containers import check_mp4, check_ogg_opus, check_webm
from services.publisher.media.images import inspect_image
from shared.events.content import MediaKind
from shared.media.memory import release_free_memory

# The publisher's hosts have two cores; two decodes use both while requests that need no
# decode go on. Uploads beyond that wait their turn (their bytes are on disk, not in memory).
DECODE_SLOTS = 2

_CONTAINER_CHECKS = {
    "video/mp4": check_mp4,
    "video/webm": check_webm,
    "audio/ogg": check_ogg_opus,
}
_slots: asyncio.Semaphore | None = None


@dataclass(frozen=True)
class Verified:
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


async def verify_content(path: Path, mime: str, kind: MediaKind) -> Verified:
    """Check the file at `path`, whose leading bytes say it is `mime` of `kind`; for a
    photo, make its thumbnail. Raise `Unsupported` (not a whole, valid file of that type)
    or `TooLarge` (an image over its pixel limit). Waits for a free decode slot."""
    global _slots
    if _slots is None:
        _slots = asyncio.Semaphore(DECODE_SLOTS)
    async with _slots:
        return await asyncio.to_thread(_verify, path, mime, kind)


def _verify(path: Path, mime: str, kind: MediaKind) -> Verified:
    check = _CONTAINER_CHECKS.get(mime)
    if check is not None:
        with path.open("rb") as f:
            check(f, path.stat().st_size)
        return Verified()
    try:
        width, height, thumbnail = inspect_image(path, mime, kind)
    finally:
        # Also after a failed decode, which may have allocated as much.
        release_free_memory()
    return Verified(width, height, thumbnail)
