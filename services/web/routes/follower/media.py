"""`/media/{media_id}` and `/media/{media_id}/thumb`: a post's media through web, with the
session's token, so an invite-only channel's photos load for its followers (the browser's
own request to the feed would be anonymous).

Bytes are relayed as the feed sends them (type, length, ranges for seeking in video and
voice). A thumbnail is the photo scaled to fit THUMB_EDGE pixels, as WebP, made off the
event loop, at most THUMB_SLOTS at once and only for photos whose header declares at
most THUMB_SOURCE_MAX_PIXELS (anonymous visitors ask for them, and decoding is what costs
memory); media are ephemeral, so both are cached privately and briefly.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from PIL import Image

from services.web.auth.deps import MaybeAuthenticated
from services.web.routes.follower.deps import Api, token_of
from shared.media.image_header import image_dimensions
from shared.media.memory import release_free_memory
from shared.media.thumbnail import draft_for_thumbnail, upright_thumbnail

router = APIRouter()

THUMB_EDGE = 480
# A photo is at most 16 MiB (the publisher's limit); anything larger is not thumbnailed.
THUMB_SOURCE_MAX = 16 * 1024 * 1024
# The publisher's largest photo (4096x3072, ≤ 50 MB decoded); anything larger predates
# that limit and is not thumbnailed.
THUMB_SOURCE_MAX_PIXELS = 4096 * 3072
# Decodes at once (two cores); more requests wait their turn.
THUMB_SLOTS = 2
_thumb_slots: asyncio.Semaphore | None = None
CACHE = "private, max-age=300"
# Connecting and each read; a long video streams for as long as it keeps moving.
STREAM_TIMEOUT = httpx.Timeout(10.0)
RELAYED = (
    "content-type",
    "content-length",
    "content-range",
    "accept-ranges",
    "last-modified",
    "etag",
)


@router.get("/media/{media_id}", summary="Media bytes")
async def media(
    request: Request, media_id: UUID, api: Api, session: MaybeAuthenticated
) -> Response:
    headers = {"range": request.headers["range"]} if "range" in request.headers else {}
    url = f"{api.feed_url}/v1/media/{media_id}"
    token = token_of(session)
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    # A client of its own per relay: the body streams after this function returns.
    client = httpx.AsyncClient(timeout=STREAM_TIMEOUT)
    try:
        upstream = await client.send(client.build_request("GET", url, headers=headers), stream=True)
    except httpx.TransportError:
        await client.aclose()
        return Response(status_code=502)
    if upstream.status_code not in (200, 206):
        await upstream.aclose()
        await client.aclose()
        return Response(status_code=404 if upstream.status_code < 500 else 502)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()
            await client.aclose()

    relayed = {k: v for k, v in upstream.headers.items() if k.lower() in RELAYED}
    relayed["cache-control"] = CACHE
    relayed["content-disposition"] = "inline"
    return StreamingResponse(body(), status_code=upstream.status_code, headers=relayed)


@router.get("/media/{media_id}/thumb", summary="A photo's thumbnail")
async def thumbnail(media_id: UUID, api: Api, session: MaybeAuthenticated) -> Response:
    response = await api.request("GET", f"{api.feed_url}/v1/media/{media_id}", token_of(session))
    if (
        not response.headers.get("content-type", "").startswith("image/")
        or len(response.content) > THUMB_SOURCE_MAX
    ):
        return Response(status_code=404)
    global _thumb_slots
    if _thumb_slots is None:
        _thumb_slots = asyncio.Semaphore(THUMB_SLOTS)
    mime = response.headers["content-type"].split(";")[0].strip()
    try:
        async with _thumb_slots:
            data = await asyncio.to_thread(_thumbnail, response.content, mime)
    except (OSError, ValueError, Image.DecompressionBombError):
        return Response(status_code=404)
    return Response(data, media_type="image/webp", headers={"cache-control": CACHE})


def _thumbnail(source: bytes, mime: str) -> bytes:
    """`source` (a `mime` image) scaled down to fit THUMB_EDGE by THUMB_EDGE and turned
    upright by its EXIF orientation (browsers show the full photo that way), as WebP;
    ValueError when its header declares more than THUMB_SOURCE_MAX_PIXELS."""
    width, height = image_dimensions(io.BytesIO(source), mime)
    if width * height > THUMB_SOURCE_MAX_PIXELS:
        raise ValueError("too many pixels to thumbnail")
    try:
        with Image.open(io.BytesIO(source), formats=["JPEG", "PNG", "WEBP"]) as image:
            draft_for_thumbnail(image, THUMB_EDGE)
            small = upright_thumbnail(image, THUMB_EDGE)
            out = io.BytesIO()
            small.convert("RGB").save(out, format="WEBP", quality=80)
            return out.getvalue()
    finally:
        # A decode's freed heap would otherwise stay with the process.
        release_free_memory()
