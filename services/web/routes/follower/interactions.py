"""Reacting, voting and reading: forms on each post (htmx swaps the post back in; without
script the browser returns to the page) and `POST /seen`, the read marker and view report
the page sends for the posts that came into view.

A reaction button toggles: pressing one's current emoji clears it. Counts come back with
the next `counters` event (fan-out aggregates them), the caller's own choice at once.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.web.api_client import ApiError
from services.web.auth.deps import Authenticated
from services.web.pages import is_htmx
from services.web.routes.follower.channels import SEQ_MAX, post_fragment
from services.web.routes.follower.deps import Api, back

router = APIRouter()

Seq = Annotated[int, Path(ge=1, le=SEQ_MAX)]
NextField = Annotated[str | None, Form(alias="next", max_length=512)]
# The feed takes at most this many post ids in one view report.
VIEWS_MAX = 100


async def _after(
    request: Request,
    channel_id: UUID,
    seq: int,
    api: Api,
    session: Authenticated,
    next_path: str | None,
) -> Response:
    if is_htmx(request):
        return await post_fragment(request, channel_id, seq, api, session)
    return back(next_path, f"/c/{channel_id}#post-{seq}")


@router.post("/c/{channel_id}/{seq}/reaction", summary="React, or clear a reaction")
async def react(
    request: Request,
    channel_id: UUID,
    seq: Seq,
    api: Api,
    session: Authenticated,
    post_id: Annotated[UUID, Form()],
    emoji: Annotated[str, Form(min_length=1, max_length=16)],
    current: Annotated[str | None, Form(max_length=16)] = None,
    next_path: NextField = None,
) -> Response:
    path = f"/v1/posts/{post_id}/reaction"
    if current == emoji:
        await api.feed("DELETE", path, session.access_token)
    else:
        await api.feed("PUT", path, session.access_token, json={"emoji": emoji})
    return await _after(request, channel_id, seq, api, session, next_path)


@router.post("/c/{channel_id}/{seq}/vote", summary="Vote, change or retract a vote")
async def vote(
    request: Request,
    channel_id: UUID,
    seq: Seq,
    api: Api,
    session: Authenticated,
    post_id: Annotated[UUID, Form()],
    option: Annotated[list[int] | None, Form()] = None,
    retract: Annotated[bool, Form()] = False,
    next_path: NextField = None,
) -> Response:
    path = f"/v1/posts/{post_id}/vote"
    if retract:
        await api.feed("DELETE", path, session.access_token)
    elif not option:
        raise ApiError(422, "Choose an option to vote for.")
    else:
        await api.feed("PUT", path, session.access_token, json={"options": option})
    return await _after(request, channel_id, seq, api, session, next_path)


class Seen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel_id: UUID
    post_id: UUID
    seq: int = Field(ge=1, le=SEQ_MAX)


class SeenReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Seen] = Field(min_length=1, max_length=VIEWS_MAX)


@router.post("/seen", status_code=204, summary="Posts seen: views and read markers")
async def seen(report: SeenReport, api: Api, session: Authenticated) -> Response:
    """Reports the views, then moves each followed channel's read marker to the highest
    seq seen (the feed never moves it back; a channel not followed has none: skipped)."""
    token = session.access_token
    await api.feed(
        "POST", "/v1/views", token, json={"post_ids": [str(i.post_id) for i in report.items]}
    )
    highest: dict[UUID, int] = defaultdict(int)
    for item in report.items:
        highest[item.channel_id] = max(highest[item.channel_id], item.seq)
    for channel_id, seq in highest.items():
        try:
            await api.feed("POST", f"/v1/channels/{channel_id}/read", token, json={"seq": seq})
        except ApiError as exc:
            if exc.status != 404:
                raise
    return Response(status_code=204)
