"""Static assets with cache headers.

Pages link assets through `static_url`, whose `?v=` is a hash of the content: such a
request may be cached for a year (`immutable`); an unversioned one must revalidate, so
an old copy is never used once a file changes.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

VERSIONED = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=0, must-revalidate"


class CachedStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        versioned = b"v=" in scope.get("query_string", b"")
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = VERSIONED if versioned else UNVERSIONED
        return response
