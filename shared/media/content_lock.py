"""The lock that keeps a content-addressed media file and the rows that use it in step.

Files are named by their content, so media rows share them: the publisher links a new
upload to the file already stored for the same bytes (`put_file` is then a no-op), and
retention removes a file once no media row uses its key. Checking "no row uses it" and
removing the file are two steps, and so are storing the file and inserting the row: an
upload of the same bytes between retention's check and its delete would point at a
removed file. Both sides therefore take this transaction-scoped Postgres advisory lock
of the content first:

- retention holds it in the transaction in which it checks that no row uses the key,
  removes the file and forgets the key;
- the publisher holds it in the transaction in which it puts the file and inserts the
  media row.

An upload thus either commits its row before retention checks (and retention keeps the
file), or puts its file after retention removed the old one (and writes it anew). One
lock covers a content's file and its derived files (`<sha256>.thumb.jpg`).
"""

from __future__ import annotations

import hashlib

import asyncpg

# The advisory-lock namespace of media content ("medi"): the two-int form of the lock
# never meets the single-bigint locks of migrations and retention runs.
CONTENT_LOCK_CLASS = 0x6D656469


def content_lock_id(key: str) -> int:
    """The lock id of the content a storage key names (its first 64 characters, the
    sha256). A collision only makes two contents wait for each other, briefly."""
    digest = hashlib.blake2b(key[:64].encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


async def lock_content(conn: asyncpg.Connection, key: str) -> None:
    """Wait until this connection's transaction holds the lock of `key`'s content; it is
    released when the transaction ends. Call inside a transaction."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, $2)", CONTENT_LOCK_CLASS, content_lock_id(key)
    )
