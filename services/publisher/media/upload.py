"""Receive a multipart upload straight to disk, hashing as it streams.

The body is parsed incrementally (python-multipart's push parser over the ASGI stream), so
at most one network chunk is in memory whatever the file size. The first SNIFF_BYTES of
the file decide its type; from then on the limit of that type applies while streaming,
so a 60 MiB "sticker" is refused at its first megabytes, not after.

Form fields: `file` (required, exactly one) and `kind` (optional: photo, video, sticker
or voice; `sticker` marks a WebP as a sticker). Any other field is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from services.publisher.media.inspect import (
    KIND_BY_MIME,
    LIMITS,
    SNIFF_BYTES,
    Unsupported,
    check_size,
    resolve_kind,
    sniff_mime,
)
from shared.events.content import MediaKind
from shared.http.problems import Problem

_KIND_FIELD_MAX = 16
# The form has two fields (`file`, `kind`); a body of many tiny parts is refused early
# (the parser bounds each part's headers: 8 lines of at most ~4 KiB, a 400).
_MAX_PARTS = 4


class Upload:
    """One file being received into `path` (a temporary file the caller removes)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{uuid.uuid4().hex}.part"
        self.size = 0
        self.mime: str | None = None
        self.requested: MediaKind | None = None
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._file: IO[bytes] | None = None
        self._seen_file = False

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def begin_file(self) -> None:
        if self._seen_file:
            raise Problem(422, "send exactly one 'file' field", type_="validation")
        self._seen_file = True
        # Writes go to the page cache in request-sized chunks: no measurable loop stall.
        self._file = self.path.open("wb")

    def feed(self, data: bytes) -> None:
        assert self._file is not None
        self.size += len(data)
        self._hash.update(data)
        self._file.write(data)
        if self.mime is None and len(self._head) < SNIFF_BYTES:
            self._head += data[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._sniff()
        if self.mime is not None:
            kind = self.requested or KIND_BY_MIME[self.mime]
            check_size(kind, self.size)

    def end_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def finish(self) -> MediaKind:
        """After the body: the file's kind, or raise Unsupported / TooLarge."""
        if not self._seen_file:
            raise Problem(422, "the form needs a 'file' field", type_="validation")
        if self.size == 0:
            raise Unsupported("the file is empty")
        if self.mime is None:
            self._sniff()
        assert self.mime is not None
        kind = resolve_kind(self.mime, self.requested)
        check_size(kind, self.size)
        return kind

    def close(self) -> None:
        self.end_file()
        self.path.unlink(missing_ok=True)

    def _sniff(self) -> None:
        self.mime = sniff_mime(bytes(self._head))
        # Refuse a kind the bytes cannot be before reading further.
        resolve_kind(self.mime, self.requested)


def _kind(raw: bytes) -> MediaKind:
    try:
        return MediaKind(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        kinds = ", ".join(k.value for k in MediaKind)
        raise Problem(422, f"kind must be one of {kinds}", type_="validation") from None


async def receive_upload(request: Request, directory: Path) -> Upload:
    """Stream the multipart body into a new `Upload`. On any error the partial file is
    removed and the error propagates (Problem, Unsupported, TooLarge)."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise Problem(
            415, "send multipart/form-data with the file in field 'file'", type_="unsupported"
        )
    upload = Upload(directory)
    field: dict[str, bytes] = {}
    headers: dict[bytes, bytes] = {}
    part: dict[str, object] = {"name": None, "value": bytearray()}
    counts = {"parts": 0}

    def on_part_begin() -> None:
        counts["parts"] += 1
        if counts["parts"] > _MAX_PARTS:
            raise Problem(422, "form fields are 'file' and 'kind' only", type_="validation")
        headers.clear()
        field.clear()
        part["name"] = None
        part["value"] = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        field["name"] = field.get("name", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        field["value"] = field.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        headers[field.get("name", b"").lower()] = field.get("value", b"")
        field.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if name not in ("file", "kind"):
            raise Problem(422, "form fields are 'file' and 'kind' only", type_="validation")
        part["name"] = name
        if name == "file":
            upload.begin_file()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part["name"] == "file":
            upload.feed(data[start:end])
            return
        value = part["value"]
        assert isinstance(value, bytearray)
        value += data[start:end]
        if len(value) > _KIND_FIELD_MAX:
            raise Problem(422, "the 'kind' field is too long", type_="validation")

    def on_part_end() -> None:
        if part["name"] == "file":
            upload.end_file()
        elif part["name"] == "kind":
            value = part["value"]
            assert isinstance(value, bytearray)
            upload.requested = _kind(bytes(value))
            if upload.mime is not None:
                resolve_kind(upload.mime, upload.requested)

    parser = MultipartParser(
        boundary,
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
        max_size=MAX_BODY_BYTES,
    )
    try:
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except BaseException:
        upload.close()
        raise
    upload.end_file()
    return upload


# The multipart envelope around the largest file: headers, boundaries and the kind field.
MULTIPART_SLACK_BYTES = 64 * 1024
MAX_BODY_BYTES = max(LIMITS.values()) + MULTIPART_SLACK_BYTES
