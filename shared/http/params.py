"""The app-wide dependency that applies `shared.text`'s single-line rule to every path
segment and query value of both HTTP services.

Request bodies carry the rule in their pydantic types; path and query parameters are
checked here once, so no route can forget it: `PUT …/admins/a%00b` or `?q=%00` is a 422
before any handler reads (or a query stores) the value. Percent-encoded characters
arrive here decoded.

This runs before every other dependency, the operator check included; on an operator-only
route a refusal therefore asks that check first, so anyone but an operator still gets the
404 of a path that does not exist, never a 422 that would show the path is there.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from fastapi import Request

from shared.http.auth import require_operator
from shared.http.problems import Problem
from shared.text import SINGLE_LINE_RULE, is_single_line

NOT_UTF8 = "percent-escapes must encode UTF-8 text"


async def refuse_control_characters(request: Request) -> None:
    """422 `validation` problem naming the parameter (never its value) that breaks the
    single-line rule, or the part of the URL whose percent-escapes are not UTF-8 (the
    server would decode them to U+FFFD, so `%ED%A0%80` — a surrogate — would otherwise
    arrive as replacement characters and be stored)."""
    found = _offending(request)
    if found is None:
        return
    location, name, rule = found
    if _operator_only(request):
        await require_operator(request)
    raise Problem(
        422,
        f"{location}.{name}: {rule}",
        type_="validation",
        extra={"errors": [{"loc": [location, name], "msg": rule}]},
    )


def _offending(request: Request) -> tuple[str, str, str] | None:
    raw_path: bytes = request.scope.get("raw_path") or b""
    if not _is_utf8(raw_path):
        return ("path", "url", NOT_UTF8)
    if not _is_utf8(request.scope.get("query_string") or b""):
        return ("query", "url", NOT_UTF8)
    where = [("path", name, value) for name, value in request.path_params.items()]
    where += [("query", name, value) for name, value in request.query_params.multi_items()]
    for location, name, value in where:
        if isinstance(value, str) and not is_single_line(value):
            return (location, name, SINGLE_LINE_RULE)
    return None


def _is_utf8(raw: bytes) -> bool:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _operator_only(request: Request) -> bool:
    dependant = getattr(request.scope.get("route"), "dependant", None)
    return dependant is not None and any(
        sub.call is require_operator for sub in dependant.dependencies
    )
