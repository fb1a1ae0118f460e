"""Give freed heap memory back to the operating system after large decodes.

Pillow allocates a decoded image in blocks of up to 16 MiB with `malloc`. glibc serves
the first such block with `mmap` (returned on `free`), then raises its mmap threshold to
that size, so the next ones come from the heap arenas of the decoding threads; freed,
they stay mapped: a burst of decodes left the publisher gigabytes larger for good.
`malloc_trim(0)` returns every whole free page of every arena.

Used after image decodes by the publisher (uploads) and web (thumbnails). A no-op where
the C library has no `malloc_trim` (musl, macOS).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_MALLOC_TRIM = _load_malloc_trim()


def release_free_memory() -> None:
    """Return free heap pages to the system. Blocking (it walks every arena, a few ms
    after a large decode): call it from a worker thread."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
