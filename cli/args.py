"""Argument parsing and checks that need no I/O: times, durations, channel references and
the body of a post. Each raises `UsageError` (exit code 2) for input the API would refuse
for certain, so nothing is uploaded or sent for a command that cannot succeed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+)([smhd]?)$")


class UsageError(Exception):
    """The command line itself is wrong; the message says how."""


def parse_duration_s(text: str) -> int:
    """`90`, `90s`, `15m`, `2h`, `7d` → seconds (a bare number is seconds)."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise UsageError(f"'{text}' is not a duration: use e.g. 3600, 90s, 15m, 2h or 7d")
    return int(match.group(1)) * _UNITS_S[match.group(2) or "s"]


def parse_at(text: str, now: datetime | None = None) -> datetime:
    """When to publish: `+15m` / `+2h` / `+1d` (from `now`), or an ISO 8601 time such as
    `2026-12-03T18:00:00Z` or `2026-12-03 18:00+01:00`; a time without an offset is this
    machine's local time. Returns an aware datetime. The API decides whether it is far
    enough ahead (1 minute to 30 days) — its clock is the one that counts."""
    text = text.strip()
    if text.startswith("+"):
        return (now or datetime.now(UTC)) + timedelta(seconds=parse_duration_s(text[1:]))
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"'{text}' is not a time: use +15m, +2h, +1d or ISO 8601 like 2026-12-03T18:00Z"
        ) from None
    if at.tzinfo is None:
        at = at.astimezone()  # local time: what someone typing a bare time means
    return at


def channel_ref(text: str) -> UUID | str:
    """A channel id (UUID), or a handle (with or without a leading `@`), lower-cased."""
    try:
        return UUID(text)
    except ValueError:
        pass
    handle = text.removeprefix("@").lower()
    if not re.fullmatch(r"[a-z0-9_]{3,32}", handle):
        raise UsageError(f"'{text}' is neither a channel id nor a handle")
    return handle


def post_body(
    text: str | None,
    *,
    photo_media_id: str | None = None,
    has_photo: bool = False,
    poll: str | None = None,
    options: list[str] | None = None,
    multiple: bool = False,
    at: datetime | None = None,
    alert: bool = False,
    silent: bool = False,
) -> dict[str, Any]:
    """The JSON body of `POST /v1/channels/{id}/posts` for the CLI's arguments.

    Text alone: a text post. `--photo`: a photo post whose caption is the text (the photo
    is uploaded first; pass `has_photo=True` to check before the upload, and the media id
    after). `--poll` with two or more `--option`s: a poll post, which has no text.
    """
    options = options or []
    if poll is not None and has_photo:
        raise UsageError("a post is either a poll or a photo, not both")
    if poll is None and (options or multiple):
        raise UsageError("--option and --multiple need --poll QUESTION")
    if alert and silent:
        raise UsageError("an alert cannot be silent")
    body: dict[str, Any]
    if poll is not None:
        if text:
            raise UsageError("a poll post has no text: put it in the question")
        if len(options) < 2:
            raise UsageError("a poll needs at least two --option")
        if len(set(options)) != len(options):
            raise UsageError("poll options must be distinct")
        body = {"type": "poll", "poll": {"question": poll, "options": options}}
        if multiple:
            body["poll"]["multiple"] = True
    elif has_photo:
        body = {"type": "photo"}
        if photo_media_id is not None:
            body["media_id"] = photo_media_id
        if text:
            body["caption"] = text
    else:
        if not text:
            raise UsageError("nothing to post: give a text, --photo FILE or --poll QUESTION")
        body = {"type": "text", "text": text}
    if at is not None:
        body["publish_at"] = at.isoformat()
    if alert:
        body["priority"] = "alert"
    if silent:
        body["silent"] = True
    return body
