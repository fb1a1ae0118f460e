"""`/login`, `/logout` and the OIDC callback.

Dev mode (`HERALD_WEB_AUTH=dev`, never in production): `/login` is a form that takes any
account name and signs a dev token for it with the dev JWT secret. OIDC mode: `/login`
sends the browser to the provider and `/auth/callback` brings it back. Every login makes
a new session id; `/logout` (a POST, with the CSRF token) deletes the session.
"""

from __future__ import annotations

import re
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from services.web.auth.cookies import clear_session_cookie, set_session_cookie
from services.web.auth.deps import MaybeAuthenticated, safe_next
from services.web.auth.oidc import CALLBACK_PATH, LOGIN_STATE_COOKIE, LoginRefused, OidcClient
from services.web.config import AuthMode, WebSettings
from services.web.pages import render, render_error
from services.web.sessions import SessionStore
from shared.auth import mint_dev_token

router = APIRouter(include_in_schema=False)
# A dev account name: what the APIs accept as an account id, kept to readable characters.
DEV_ACCOUNT = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")


def _settings(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


@router.get("/login")
async def login_page(request: Request, session: MaybeAuthenticated, next: str = "/") -> Response:
    settings = _settings(request)
    next_path = safe_next(next)
    if settings.auth is AuthMode.OIDC:
        oidc: OidcClient = request.app.state.oidc
        try:
            url, state = await oidc.begin(next_path)
        except Exception:  # the provider unreachable or misconfigured: say so, no trace
            return render_error(
                request, "The login provider cannot be reached; try again in a moment.", 503
            )
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            LOGIN_STATE_COOKIE,
            state,
            max_age=600,
            path=CALLBACK_PATH,
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",
        )
        return response
    return render(request, "login.html", {"next": next_path, "error": None})


@router.post("/login")
async def dev_login(
    request: Request, account: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    settings = _settings(request)
    if settings.auth is not AuthMode.DEV:
        return render_error(request, "Log in with your organisation's account.", 404)
    next_path = safe_next(next)
    account = account.strip()
    if not DEV_ACCOUNT.fullmatch(account):
        context = {
            "next": next_path,
            "account": account,
            "error": "An account name is 1 to 64 letters, digits or . _ @ -",
        }
        return render(request, "login.html", context, status_code=422)
    token = mint_dev_token(settings, account, ttl_s=settings.session_ttl_s)
    store: SessionStore = request.app.state.sessions
    session_id = await store.create(account, token, ttl_s=settings.session_ttl_s)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, settings, session_id)
    return response


@router.get(CALLBACK_PATH)
async def oidc_callback(
    request: Request, state: str = "", code: str = "", error: str = ""
) -> Response:
    settings = _settings(request)
    if settings.auth is not AuthMode.OIDC:
        return render_error(request, "Not found.", 404)
    if error or not state or not code:
        return render_error(request, "The login was cancelled or refused; try again.", 400)
    oidc: OidcClient = request.app.state.oidc
    try:
        tokens, next_path = await oidc.finish(state, request.cookies.get(LOGIN_STATE_COOKIE), code)
    except LoginRefused as exc:
        return render_error(request, str(exc), 400, title="Login refused")
    except httpx.HTTPError:
        return render_error(
            request, "The login provider cannot be reached; try again in a moment.", 503
        )
    store: SessionStore = request.app.state.sessions
    session_id = await store.create(
        tokens.account_id,
        tokens.access_token,
        ttl_s=settings.session_ttl_s,
        refresh_token=tokens.refresh_token,
        access_expires_at=tokens.access_expires_at,
    )
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, settings, session_id)
    response.delete_cookie(LOGIN_STATE_COOKIE, path=CALLBACK_PATH)
    return response


@router.post("/logout")
async def logout(request: Request, session: MaybeAuthenticated) -> Response:
    if session is not None:
        store: SessionStore = request.app.state.sessions
        await store.delete(session.hash)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, _settings(request))
    return response
