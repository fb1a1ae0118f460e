"""`POST /v1/channels/{id}/media`: upload a photo, video, sticker or voice note (admins).

The type comes from the bytes only (see `media.inspect`); the file streams to disk while
its sha256 is computed and is stored content-addressed (`shared.media`, via
`media.storage`), photos with a JPEG thumbnail under `<sha256>.thumb.jpg`. Form: `file`,
and optional `kind` (`sticker` marks a WebP ≤ 512 KiB as a sticker). Wrong type → 415,
over its kind's limit (bytes, or an image's pixels) → 413; content that is not a whole,
valid file of its type → 415.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from python_multipart.exceptions import MultipartParseError

from services.publisher.api.deps import AdminAccess, MediaStoreDep, Pool
from services.publisher.media.inspect import Inspected, TooLarge, Unsupported
from services.publisher.media.storage import store_upload
from services.publisher.media.upload import receive_upload
from services.publisher.media.verify import verify_content
from services.publisher.models import MediaPublic
from shared.events.content import MediaKind
from shared.http.problems import Problem
from shared.metrics.publisher import MEDIA_REJECTED, MEDIA_UPLOADED, MEDIA_UPLOADED_BYTES

router = APIRouter(prefix="/v1/channels", tags=["media"])

# Path of the upload route, for the app's larger body limit on it.
UPLOAD_PATH_SUFFIX = "/media"

_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"type": "string", "enum": [k.value for k in MediaKind]},
                    },
                }
            }
        },
    }
}


@router.post(
    "/{channel_id}/media",
    status_code=201,
    summary="Upload a media file; its type is taken from its bytes",
    openapi_extra=_FORM_SCHEMA,
)
async def upload_media(
    request: Request, access: AdminAccess, pool: Pool, media_store: MediaStoreDep
) -> MediaPublic:
    incoming = media_store.root / "incoming"
    try:
        upload = await receive_upload(request, incoming)
    except Unsupported as exc:
        MEDIA_REJECTED.labels(reason="type").inc()
        raise Problem(415, str(exc), type_="unsupported-media-type") from None
    except TooLarge as exc:
        MEDIA_REJECTED.labels(reason="size").inc()
        raise Problem(413, str(exc), type_="media-too-large") from None
    except MultipartParseError:
        MEDIA_REJECTED.labels(reason="form").inc()
        raise Problem(400, "malformed multipart body", type_="bad-form") from None
    try:
        try:
            kind = upload.finish()
        except Unsupported as exc:
            MEDIA_REJECTED.labels(reason="type").inc()
            raise Problem(415, str(exc), type_="unsupported-media-type") from None
        except TooLarge as exc:
            MEDIA_REJECTED.labels(reason="size").inc()
            raise Problem(413, str(exc), type_="media-too-large") from None
        assert upload.mime is not None
        try:
            verified = await verify_content(upload.path, upload.mime, kind)
        except Unsupported as exc:
            MEDIA_REJECTED.labels(reason="type").inc()
            raise Problem(415, str(exc), type_="unsupported-media-type") from None
        except TooLarge as exc:
            MEDIA_REJECTED.labels(reason="size").inc()
            raise Problem(413, str(exc), type_="media-too-large") from None
        width, height = verified.width, verified.height
        info = Inspected(kind, upload.mime, upload.size, upload.sha256, width, height)
        media_id = await store_upload(
            pool, media_store, access.channel_id, upload.path, info, verified.thumbnail, incoming
        )
    finally:
        upload.close()
    MEDIA_UPLOADED.labels(kind=kind.value).inc()
    MEDIA_UPLOADED_BYTES.labels(kind=kind.value).inc(info.size)
    return MediaPublic(
        media_id=media_id,
        kind=kind,
        mime=info.mime,
        bytes=info.size,
        sha256=info.sha256,
        width=width,
        height=height,
    )
