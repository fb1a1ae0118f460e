"""Reactions, poll votes and views: PUT/DELETE /v1/posts/{post_id}/reaction,
PUT/DELETE /v1/posts/{post_id}/vote, POST /v1/views.

Each writes the caller's own row (their current choice; NULL when cleared) and emits the
matching event keyed by post_id; the answer is the caller's new state at once (counts
follow when fan-out has aggregated). Semantics:
- one reaction per account per post; a new emoji replaces the old one. Allowed emoji
  follow the channel's `reactions` setting: `none` → 403, `limited` → only
  `allowed_reactions` (and of those only emoji), `all` → any one fully-qualified emoji
  (`shared.emoji`: an exact lookup in Unicode's emoji data; 422 otherwise);
- one vote per account per poll, over one option unless the poll is `multiple`; voting
  again REPLACES the earlier choice (as in WhatsApp); indices must exist (422);
- views are reported in batches of at most 100 ids; invisible ones are ignored.
Unknown, deleted or expired posts (or of a channel no longer active, or of an
invite-only channel the caller neither follows nor administers) answer 404 and change
nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter

from services.feed.api.deps import Emit, Pool
from services.feed.models import (
    ReactionSet,
    ReactionState,
    ViewsAccepted,
    ViewsReport,
    VoteSet,
    VoteState,
)
from services.feed.queries import interactions as queries
from services.feed.queries.channels import reaction_policy
from shared.emoji import is_emoji
from shared.events.interactions import (
    PostViewed,
    PostViewedV1,
    ReactionChanged,
    ReactionChangedV1,
    VoteChanged,
    VoteChangedV1,
)
from shared.http.auth import Account
from shared.http.problems import Problem

router = APIRouter(tags=["interactions"])


async def _visible_post(conn: asyncpg.Connection, post_id: UUID, account_id: str) -> asyncpg.Record:
    post = await queries.visible_post(conn, post_id, account_id)
    if post is None:
        raise Problem(404, "no such post, or it has expired", type_="not-found")
    return post


def check_emoji(emoji: str, settings: dict[str, Any] | None) -> None:
    mode, allowed = reaction_policy(settings)
    if mode == "none":
        raise Problem(403, "this channel does not take reactions", type_="reactions-off")
    if mode == "limited":
        if emoji not in allowed:  # only emoji: `reaction_policy` drops anything else
            raise Problem(
                422, "this channel accepts only its listed reactions", type_="emoji-not-allowed"
            )
        return
    if not is_emoji(emoji):
        raise Problem(422, "a reaction is exactly one emoji", type_="emoji-not-allowed")


def check_options(options: list[int], body: dict[str, Any]) -> list[int]:
    poll = body.get("poll") if body.get("type") == "poll" else None
    if not isinstance(poll, dict):
        raise Problem(422, "this post is not a poll", type_="not-a-poll")
    count = len(poll.get("options") or [])
    chosen = sorted(set(options))
    if len(chosen) != len(options):
        raise Problem(422, "an option is chosen at most once", type_="invalid-vote")
    if any(not 0 <= i < count for i in chosen):
        raise Problem(422, f"options are indices 0..{count - 1}", type_="invalid-vote")
    if len(chosen) > 1 and not poll.get("multiple"):
        raise Problem(422, "this poll takes a single option", type_="invalid-vote")
    return chosen


async def _reaction(
    post_id: UUID, emoji: str | None, caller: Account, pool: Pool, emit: Emit
) -> ReactionState:
    async with pool.acquire() as conn:
        post = await _visible_post(conn, post_id, caller.account_id)
        if emoji is not None:
            check_emoji(emoji, post["settings"])
        await queries.set_reaction(conn, post_id, caller.account_id, post["channel_id"], emoji)
    event = ReactionChanged(
        payload=ReactionChangedV1(
            channel_id=post["channel_id"], post_id=post_id, account_id=caller.account_id
        )
    )
    await emit.emit("reaction", [(post_id, event)])
    return ReactionState(post_id=post_id, my_reaction=emoji)


@router.put("/v1/posts/{post_id}/reaction", response_model=ReactionState, summary="React")
async def react(
    post_id: UUID, body: ReactionSet, caller: Account, pool: Pool, emit: Emit
) -> ReactionState:
    return await _reaction(post_id, body.emoji, caller, pool, emit)


@router.delete(
    "/v1/posts/{post_id}/reaction", response_model=ReactionState, summary="Remove reaction"
)
async def unreact(post_id: UUID, caller: Account, pool: Pool, emit: Emit) -> ReactionState:
    return await _reaction(post_id, None, caller, pool, emit)


async def _vote(
    post_id: UUID, options: list[int] | None, caller: Account, pool: Pool, emit: Emit
) -> VoteState:
    async with pool.acquire() as conn:
        post = await _visible_post(conn, post_id, caller.account_id)
        chosen = check_options(options, post["body"]) if options is not None else None
        if options is None:
            check_options([0], post["body"])  # retracting is only for polls, too
        await queries.set_vote(conn, post_id, caller.account_id, post["channel_id"], chosen)
    event = VoteChanged(
        payload=VoteChangedV1(
            channel_id=post["channel_id"], post_id=post_id, account_id=caller.account_id
        )
    )
    await emit.emit("vote", [(post_id, event)])
    return VoteState(post_id=post_id, my_vote=chosen)


@router.put("/v1/posts/{post_id}/vote", response_model=VoteState, summary="Vote in a poll")
async def vote(post_id: UUID, body: VoteSet, caller: Account, pool: Pool, emit: Emit) -> VoteState:
    return await _vote(post_id, body.options, caller, pool, emit)


@router.delete("/v1/posts/{post_id}/vote", response_model=VoteState, summary="Retract vote")
async def unvote(post_id: UUID, caller: Account, pool: Pool, emit: Emit) -> VoteState:
    return await _vote(post_id, None, caller, pool, emit)


@router.post("/v1/views", response_model=ViewsAccepted, status_code=202, summary="Report views")
async def views(body: ViewsReport, caller: Account, pool: Pool, emit: Emit) -> ViewsAccepted:
    async with pool.acquire() as conn:
        rows = await queries.visible_posts(
            conn, list(dict.fromkeys(body.post_ids)), caller.account_id
        )
    events: list[tuple[UUID, Any]] = [
        (
            row["post_id"],
            PostViewed(
                payload=PostViewedV1(
                    channel_id=row["channel_id"],
                    post_id=row["post_id"],
                    account_id=caller.account_id,
                )
            ),
        )
        for row in rows
    ]
    if events:
        await emit.emit("view", events)
    return ViewsAccepted(accepted=len(events))
