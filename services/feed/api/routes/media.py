"""GET /v1/media/{media_id}: the bytes of a media file, only while a visible post of an
active channel uses it (or it is an active channel's avatar); an invite-only channel's
media answer its followers and admins only (404 to anyone else).

The type comes from `media.mime` (sniffed from magic bytes at upload, never the client's
word) with `nosniff`; `Content-Disposition: inline` with a name made of the id only.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import FileResponse

from services.feed.api.deps import Pool, Settings
from services.feed.queries import media as queries
from shared.http.auth import MaybeAccount
from shared.http.problems import Problem
from shared.media import LocalMediaStore

router = APIRouter(tags=["media"])

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "audio/ogg": "ogg",
    "audio/opus": "opus",
}


@router.get(
    "/v1/media/{media_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    summary="Media bytes",
)
async def media(
    media_id: UUID, pool: Pool, settings: Settings, caller: MaybeAccount
) -> FileResponse:
    async with pool.acquire() as conn:
        row = await queries.servable_media(conn, media_id, caller.account_id if caller else None)
    missing = Problem(404, "no such media, or no visible post uses it", type_="not-found")
    if row is None:
        raise missing
    try:
        path = LocalMediaStore(settings.media_dir).local_path(row["storage_key"])
    except ValueError:
        raise missing from None
    if not path.is_file():
        raise missing
    mime = row["mime"] if row["mime"] in EXTENSIONS else "application/octet-stream"
    filename = f"{media_id}.{EXTENSIONS.get(mime, 'bin')}"
    return FileResponse(
        path,
        media_type=mime,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="{filename}"',
            # Content is ephemeral and may be deleted: private caches only, briefly.
            "Cache-Control": "private, max-age=60",
        },
    )
