"""Request heads are bounded in size and time on every HTTP service (publisher, feed, web),
tried with raw sockets against the real processes (issue 19, item 2).

- A 1 MB header is refused with 431 (problem+json) after the cap, not parsed whole, and
  the process answers others meanwhile; a long URL gets 414.
- A client trickling its head is cut off after `HERALD_HTTP_HEADER_TIMEOUT_S` (1 s here),
  on a fresh connection and on a kept-alive one after a response.
- Heads under the cap, keep-alive, and a feed SSE stream (long-lived after its head)
  still work.

Waits below are upper bounds for a failure to show, never measurements.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice
from tests.support.tokens import auth

HEADER_TIMEOUT_S = 1.0
SERVICES = ("publisher", "feed", "web")
# How long a failure may take to show: a trickled head would stay open forever.
GIVE_UP_S = 15.0


@pytest.fixture(scope="module")
async def bounded(
    stack: StackSlice, service_logs: Path
) -> AsyncIterator[dict[str, ServiceProcess]]:
    """One process of each HTTP service with a 1 s head timeout (default size cap)."""
    common = {"HERALD_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)}
    processes = {
        "publisher": ServiceProcess("publisher", stack.env(**common), service_logs),
        # Heartbeats more often than the head timeout: a stream cut by it would show.
        "feed": ServiceProcess(
            "feed", stack.env(**common, HERALD_FEED_SSE_HEARTBEAT_S="0.3"), service_logs
        ),
        "web": ServiceProcess(
            "web",
            stack.env(
                **common,
                HERALD_ENVIRONMENT="development",
                HERALD_WEB_AUTH="dev",
                HERALD_WEB_FEED_URL="http://127.0.0.1:9",
                HERALD_WEB_PUBLISHER_URL="http://127.0.0.1:9",
            ),
            service_logs,
        ),
    }
    try:
        await asyncio.gather(*(p.start() for p in processes.values()))
        yield processes
    finally:
        for process in processes.values():
            process.stop()


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body: status, headers, body."""
    status_line = await asyncio.wait_for(reader.readline(), GIVE_UP_S)
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    headers: dict[str, str] = {}
    while (line := await asyncio.wait_for(reader.readline(), GIVE_UP_S)) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server ends the connection (EOF or reset) within GIVE_UP_S."""
    try:
        while await asyncio.wait_for(reader.read(65536), GIVE_UP_S):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def _get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: herald.test", *extra, "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize("name", SERVICES)
async def test_a_megabyte_header_is_refused_with_431_and_others_are_served_meanwhile(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    process = bounded[name]
    reader, writer = await _connect(process.port)

    async def send_huge_header() -> None:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: herald.test\r\nX-Filler: ")
        chunk = b"a" * 65536
        with contextlib.suppress(ConnectionError):
            for _ in range(16):  # 1 MiB of one header value
                writer.write(chunk)
                await writer.drain()
            writer.write(b"\r\n\r\n")
            await writer.drain()

    sender = asyncio.create_task(send_huge_header())
    async with httpx.AsyncClient(base_url=process.base_url, timeout=GIVE_UP_S) as other:
        healthz = await other.get("/healthz")
    status, headers, body = await _response(reader)
    await sender
    assert healthz.status_code == 200
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert json.loads(body)["status"] == 431
    assert await _closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_a_url_longer_than_the_cap_is_refused_with_414(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    reader, writer = await _connect(bounded[name].port)
    writer.write(_get("/healthz?q=" + "x" * 20_000))
    await writer.drain()
    status, _, body = await _response(reader)
    assert status == 414
    assert json.loads(body)["status"] == 414
    assert await _closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_a_head_under_the_cap_is_served_and_keep_alive_still_works(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    reader, writer = await _connect(bounded[name].port)
    # Two requests on one connection, the first with 12 KiB of headers (under 16 KiB).
    writer.write(_get("/healthz", "X-Filler: " + "a" * 12_288))
    await writer.drain()
    first, headers, _ = await _response(reader)
    assert first == 200 and headers.get("connection") != "close"
    writer.write(_get("/readyz"))
    await writer.drain()
    second, _, body = await _response(reader)
    assert second == 200 and json.loads(body)["status"] == "ready"
    writer.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_a_body_arriving_with_its_head_is_not_counted_as_head(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    # One write: a small head and a 40 KB body (more than the head cap). The app answers
    # (/healthz takes no POST: 405), rather than the connection refusing a "431".
    body = b"x" * 40_000
    reader, writer = await _connect(bounded[name].port)
    head = f"POST /healthz HTTP/1.1\r\nHost: herald.test\r\nContent-Length: {len(body)}\r\n\r\n"
    writer.write(head.encode() + body)
    await writer.drain()
    status, _, _ = await _response(reader)
    assert status == 405
    writer.close()


async def test_a_channel_created_with_a_body_sent_with_its_head_in_one_write(
    bounded: dict[str, ServiceProcess],
) -> None:
    # What an admin tool does: one write with headers and a 30 KB JSON body (JSON may
    # carry that much whitespace) → the channel is created.
    handle = f"limits_{uuid.uuid4().hex[:12]}"
    channel = {
        "handle": handle,
        "name": "Head and body in one write",
        "description": "",
        "category": "news",
        "country": "NL",
        "language": "en",
    }
    body = json.dumps(channel).encode() + b" " * 30_000
    token = auth(f"limits-owner-{uuid.uuid4().hex[:8]}")["Authorization"]
    head = (
        "POST /v1/channels HTTP/1.1\r\nHost: herald.test\r\n"
        f"Authorization: {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    reader, writer = await _connect(bounded["publisher"].port)
    writer.write(head.encode() + body)
    await writer.drain()
    status, _, answer = await _response(reader)
    assert status == 201, answer
    assert json.loads(answer)["handle"] == handle
    writer.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_pipelined_heads_are_each_held_to_the_cap_not_their_sum(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    # One write, two requests of 10 KiB heads each (20 KiB together): both are answered.
    filler = "X-Filler: " + "a" * 10_240
    reader, writer = await _connect(bounded[name].port)
    writer.write(_get("/healthz", filler) + _get("/healthz", filler))
    await writer.drain()
    assert (await _response(reader))[0] == 200
    assert (await _response(reader))[0] == 200
    writer.close()


async def _trickle(writer: asyncio.StreamWriter, head: bytes) -> None:
    """Send `head` a byte at a time, a few bytes a second, until the connection fails."""
    with contextlib.suppress(ConnectionError):
        for byte in head:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("name", SERVICES)
async def test_a_trickled_head_is_cut_off_after_the_header_timeout(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    reader, writer = await _connect(bounded[name].port)
    # Long enough to take well over GIVE_UP_S at 5 bytes a second.
    trickler = asyncio.create_task(_trickle(writer, _get("/healthz", "X-Slow: " + "a" * 200)))
    try:
        assert await _closed_by_server(reader), "a trickled head kept its connection"
    finally:
        trickler.cancel()
        writer.close()


@pytest.mark.parametrize("name", SERVICES)
async def test_a_kept_alive_connection_trickling_its_next_head_is_cut_off(
    bounded: dict[str, ServiceProcess], name: str
) -> None:
    reader, writer = await _connect(bounded[name].port)
    writer.write(_get("/healthz"))
    await writer.drain()
    status, _, _ = await _response(reader)
    assert status == 200
    # The first byte of the next request stops uvicorn's own keep-alive timer; only the
    # head timer, armed again after the response, ends this connection.
    trickler = asyncio.create_task(_trickle(writer, _get("/healthz", "X-Slow: " + "a" * 200)))
    try:
        assert await _closed_by_server(reader), "a trickled second head kept its connection"
    finally:
        trickler.cancel()
        writer.close()


async def test_an_sse_stream_outlives_the_header_timeout(
    bounded: dict[str, ServiceProcess],
) -> None:
    feed = bounded["feed"]
    sock = socket.create_connection(("127.0.0.1", feed.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    token = auth("http-limits-streamer")["Authorization"]
    writer.write(_get("/v1/stream", f"Authorization: {token}", "Accept: text/event-stream"))
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GIVE_UP_S)
    assert head.startswith(b"HTTP/1.1 200"), head
    loop = asyncio.get_running_loop()
    opened = loop.time()
    # Heartbeats keep coming well past the head timeout: the stream was not cut by it.
    while loop.time() - opened < 3 * HEADER_TIMEOUT_S:
        data = await asyncio.wait_for(reader.read(4096), GIVE_UP_S)
        assert data, "the stream ended"
    writer.close()
