"""A content-addressed media store: files are named by their sha256.

`MediaStore` is the small interface every backend implements; `LocalMediaStore` keeps
files on the local filesystem (the default). An S3-compatible backend can implement the
same four methods later. Keys are the hex sha256 of the content (plus a suffix such as
`.thumb.jpg` for derived files), fanned out into two directory levels.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9.]{1,20})?$")


class MediaStore(Protocol):
    async def put_file(self, source: Path, key: str) -> None:
        """Move `source` into the store under `key` (a no-op if the key exists).

        A caller about to make a row use `key` puts the file while holding the
        content's lock (`shared.media.content_lock`), in the transaction that inserts
        the row: otherwise the existing file may be removed right after this no-op.
        """

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> bool:
        """Remove `key`; True when something was removed. Only under the content's lock,
        after checking in the same transaction that no row uses `key`."""

    def local_path(self, key: str) -> Path:
        """Where the bytes of `key` can be read (local backends only)."""


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def local_path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError("not a media storage key")
        return self.root / key[:2] / key[2:4] / key

    def _put(self, source: Path, key: str) -> None:
        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            source.unlink(missing_ok=True)
            return
        # Move into place atomically: a reader never sees half a file.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.move(source, tmp)
        os.replace(tmp, target)

    async def put_file(self, source: Path, key: str) -> None:
        await asyncio.to_thread(self._put, source, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.local_path(key).exists)

    async def delete(self, key: str) -> bool:
        path = self.local_path(key)

        def _delete() -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(_delete)
