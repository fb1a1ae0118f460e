"""How the web app answers when something goes wrong: always a readable page (or an htmx
fragment), never a stack trace or JSON.

- a page that needs a login → 303 to `/login?next=…` (`HX-Redirect` for htmx);
- a form without its CSRF token → 403;
- an API refusal or failure (`ApiError`) → its message, with the API's 4xx status or 502;
  a 429 carries `Retry-After` on to the browser;
- unknown paths, bad query/form values, and anything unexpected → 404 / 422 / 500 pages.
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from services.web.api_client import ApiError
from services.web.auth.deps import LoginRequired, load_session, login_url
from services.web.pages import is_htmx, render_error
from services.web.security import CsrfRefused

log = logging.getLogger(__name__)

_STATUS_MESSAGES = {
    404: "This page does not exist (or is no longer available).",
    405: "That action is not available here.",
}


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        url = login_url(exc.next_path)
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _: CsrfRefused) -> Response:
        return render_error(
            request,
            "This form has expired or did not come from this site. Reload the page and try again.",
            403,
            title="Form refused",
        )

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        response = render_error(request, exc.message, exc.page_status)
        if exc.retry_after_s is not None:
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "input"
        message = f"Please check {field}: {first.get('msg', 'not valid')}."
        return render_error(request, message, 422, title="Check your input")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # An unknown path matched no route, so no dependency loaded the session: the
        # page's header should still show who is logged in.
        with contextlib.suppress(Exception):  # cosmetic: never fail the error page
            await load_session(request)
        message = _STATUS_MESSAGES.get(exc.status_code) or str(exc.detail)
        return render_error(request, message, exc.status_code, title="Not available")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error rendering a page")
        return render_error(request, "Something went wrong on our side; try again.", 500)
