"""The app-wide dependency that applies `shared.text`'s single-line rule to every path
segment and query value of both HTTP services.

Request bodies carry the rule in their pydantic types; path and query parameters are
checked here once, so no route can forget it: `PUT …/admins/a%00b` or `?q=%00` is a 422
before any handler reads (or a query stores) the value. Percent-encoded characters
arrive here decoded.
"""

from __future__ import annotations

from fastapi import Request

from shared.http.problems import Problem
from shared.text import SINGLE_LINE_RULE, is_single_line


async def refuse_control_characters(request: Request) -> None:
    """422 `validation` problem naming the parameter (never its value) that breaks the
    single-line rule."""
    where = [("path", name, value) for name, value in request.path_params.items()]
    where += [("query", name, value) for name, value in request.query_params.multi_items()]
    for location, name, value in where:
        if isinstance(value, str) and not is_single_line(value):
            raise Problem(
                422,
                f"{location}.{name}: {SINGLE_LINE_RULE}",
                type_="validation",
                extra={"errors": [{"loc": [location, name], "msg": SINGLE_LINE_RULE}]},
            )
