"""The HTTP/1.1 connection protocol every Herald HTTP service runs on: uvicorn's httptools
protocol with a bound on the request head (request line + headers) in size and in time.

Why: uvicorn's httptools protocol has neither. A client could send a head of any size
(parsing cost grows with its square, since the parser and uvicorn grow the URL and each
header value by concatenation, and the event loop answers nobody meanwhile) and could
keep a connection open forever by trickling one header byte at a time.

Contract, per connection and per request on it (keep-alive included):
- the head may be at most `HttpLimits.max_header_bytes` bytes, counted as they arrive and
  before they reach the parser, so an oversized head is never parsed whole (a body that
  arrives in the same read as its head is not counted: the parser gets a read in two
  parts, what the cap allows and, once the head is complete, the rest). Past the cap
  the client gets `414 URI Too Long` when its request line never ended (a long URL),
  otherwise `431 Request Header Fields Too Large` (problem+json, `Connection: close`) and
  the connection is closed (after reading and dropping what the client still sends for
  up to `LINGER_S`, so that the client gets to read the refusal). When an earlier
  response on the connection is still being written, the connection is closed without
  a response: a second status line in the middle of a body would corrupt it.
- the head must be complete within `HttpLimits.header_timeout_s` of the connection being
  made or of the previous response being complete; otherwise the connection is closed.
  The timer stops once the head is complete, so a long-lived response (an SSE stream)
  or a slow body upload is not cut by it.

Bytes that arrive in the same read as the end of the previous request (pipelining) are
fed to the parser before this protocol can tell where the next head starts; for those
the URL and header callbacks check the cap too, so the bound holds for every head.

It relies on these points of uvicorn's protocol (the version pinned in pyproject.toml):
`data_received` (one read), the parser callbacks `on_message_begin`, `on_url`,
`on_header`, `on_headers_complete`, `on_message_complete`, the cycle's `on_response`
callback `on_response_complete`, `send_400_response` (where uvicorn reports a parse
error), `self.cycle` and `self.server_state.default_headers`. The tests in
`tests/security/test_http_limits.py` fail if an upgrade moves any of them.
"""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar, Self

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared.http.problems import PROBLEM_JSON

URI_TOO_LONG = 414
HEADERS_TOO_LARGE = 431
# After a refusal the connection reads (and drops) what the client still sends for this
# long before closing: closing with unread bytes would reset the connection, and a reset
# can discard the refusal before the client reads it (what nginx calls lingering close).
LINGER_S = 2.0


class HttpLimits(BaseSettings):
    """`HERALD_HTTP_MAX_HEADER_BYTES` and `HERALD_HTTP_HEADER_TIMEOUT_S`."""

    model_config = SettingsConfigDict(env_prefix="HERALD_HTTP_", env_file=".env", extra="ignore")

    # Browsers send well under 8 KiB (cookies included); 16 KiB leaves room for a long
    # bearer token (an OIDC provider's JWT with many roles is 2-4 KiB).
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # A real client sends its head in one write; 10 s covers a slow mobile link.
    header_timeout_s: float = Field(default=10.0, gt=0, le=300)


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; `send_400_response` answers it."""


def _refusal(status: int) -> bytes:
    """The problem+json body of a refused head."""
    if status == URI_TOO_LONG:
        title, slug = "URI Too Long", "uri-too-long"
        detail = "the request line is longer than this server accepts"
    else:
        title, slug = "Request Header Fields Too Large", "header-too-large"
        detail = "the request line and headers are larger than this server accepts"
    body = {
        "type": f"https://herald.dev/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return json.dumps(body).encode()


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head bounds of the module doc. Serve a
    subclass made by `with_limits` (`shared.runtime.serve_http` does)."""

    limits: ClassVar[HttpLimits] = HttpLimits.model_construct()

    # Bytes of the current head received so far; None while no head is being received
    # (between a head's end and its message's end: the body, or a response running).
    _head_bytes: int | None = 0
    # The current head's request line has ended (a line feed arrived).
    _line_ended: bool = False
    # Heads completed on this connection: tells `data_received` a head ended in a piece.
    _heads_complete: int = 0
    # What the parser callbacks have seen of the current head (the in-parser check).
    _parsed_bytes: int = 0
    _refused: int | None = None
    _head_timer: asyncio.TimerHandle | None = None

    @classmethod
    def with_limits(cls, limits: HttpLimits) -> type[Self]:
        """This protocol class bound to `limits` (uvicorn builds protocols itself)."""
        return type(cls.__name__, (cls,), {"limits": limits})

    # ------------------------------------------------------------ connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # While a head is pending the parser gets at most what the cap still allows; the
        # rest of the read is fed only once that head is complete (it is then body, or
        # the next request), and refused otherwise.
        while data and self._refused is None and not self.transport.is_closing():
            if self._head_bytes is None:
                super().data_received(data)
                return
            room = self.limits.max_header_bytes - self._head_bytes
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            self._line_ended = self._line_ended or b"\n" in piece
            heads = self._heads_complete
            if piece:
                super().data_received(piece)
            if data and self._heads_complete == heads and self._refused is None:
                self._refuse(HEADERS_TOO_LARGE if self._line_ended else URI_TOO_LONG)
                return

    def shutdown(self) -> None:
        self._cancel_head_timer()
        super().shutdown()

    # ------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count_parsed(len(url), URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        # ": " and CRLF as on the wire.
        self._count_parsed(len(name) + len(value) + 4, HEADERS_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        self._heads_complete += 1
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes are the next request's head. Those in this same read are past
        # `data_received`'s count: the callbacks' check covers them.
        self._head_bytes = 0
        self._line_ended = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next request's head again, unless a pipelined one (whose head
        # is complete) has just started.
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._arm_head_timer()

    def send_400_response(self, msg: str) -> None:
        if self._refused is not None:
            self._write_refusal(self._refused)
        else:
            super().send_400_response(msg)

    # ------------------------------------------------------------ internals

    def _count_parsed(self, size: int, status: int) -> None:
        self._parsed_bytes += size
        if self._parsed_bytes > self.limits.max_header_bytes and self._refused is None:
            self._refused = status
            raise _HeadTooLarge

    def _refuse(self, status: int) -> None:
        self._refused = status
        self._write_refusal(status)

    def _write_refusal(self, status: int) -> None:
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            body = _refusal(status)
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head.extend([name, b": ", value, b"\r\n"])
            head.extend(
                [
                    b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
            self.transport.write(b"".join(head))
            if self.transport.can_write_eof():
                self.transport.write_eof()
                self.loop.call_later(LINGER_S, self.transport.close)
                return
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
