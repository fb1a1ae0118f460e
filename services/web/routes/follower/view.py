"""Posts and channels as the follower's templates show them: pure functions from the
feed's JSON to small view objects (no I/O), so the rules are unit-tested.

Counts are aggregates only (never who). Reactions offered follow the channel's setting:
`none` offers none, `limited` its allowed set, `all` a default palette plus any emoji
already counted on the post; `counted` (a list that cannot react) the counted ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# What a channel that allows every emoji offers as buttons (any other counted emoji is
# shown too, so a count is never hidden).
DEFAULT_PALETTE = ("👍", "❤️", "😂", "😮", "😢", "🙏")
# A pseudo-setting for lists that show counts without offering to react (the timeline,
# which does not carry each channel's setting).
COUNTED_ONLY = "counted"
# Characters of a post's text in a preview (updates list, link previews).
PREVIEW_CHARS = 200


@dataclass(frozen=True)
class Reaction:
    emoji: str
    count: int
    mine: bool


@dataclass(frozen=True)
class PollOption:
    index: int
    text: str
    count: int
    chosen: bool


@dataclass(frozen=True)
class PollView:
    question: str
    multiple: bool
    options: list[PollOption]
    total: int
    voted: bool


@dataclass(frozen=True)
class MediaView:
    media_id: str
    kind: str
    mime: str
    width: int | None
    height: int | None


@dataclass(frozen=True)
class PostView:
    post_id: str
    channel_id: str
    seq: int
    type: str
    text: str | None
    caption: str | None
    media: MediaView | None
    poll: PollView | None
    created_at: datetime
    edited: bool
    views: int
    reactions: list[Reaction]
    my_reaction: str | None
    can_react: bool
    channel: dict[str, Any] | None = None
    pinned: bool = False

    @property
    def preview(self) -> str:
        return preview_of(self.text or self.caption or (self.poll.question if self.poll else ""))


def preview_of(text: str | None) -> str:
    """The start of `text` on one line, cut at PREVIEW_CHARS with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def offered_reactions(setting: str, allowed: list[str], counts: dict[str, int]) -> list[str]:
    """The emoji a post shows as buttons, in a stable order."""
    if setting == "none":
        return []
    if setting == COUNTED_ONLY:
        return [emoji for emoji, count in counts.items() if count > 0]
    base = list(allowed) if setting == "limited" else list(DEFAULT_PALETTE)
    extra = [emoji for emoji in counts if emoji not in base]
    return base + (extra if setting != "limited" else [])


def reactions_of(
    setting: str, allowed: list[str], counts: dict[str, int], mine: str | None
) -> list[Reaction]:
    return [
        Reaction(emoji, int(counts.get(emoji, 0)), emoji == mine)
        for emoji in offered_reactions(setting, allowed, counts)
    ]


def poll_of(poll: dict[str, Any], votes: dict[str, int], my_vote: list[int] | None) -> PollView:
    chosen = set(my_vote or [])
    options = [
        PollOption(i, text, int(votes.get(str(i), 0)), i in chosen)
        for i, text in enumerate(poll.get("options") or [])
    ]
    return PollView(
        question=poll.get("question") or "",
        multiple=bool(poll.get("multiple")),
        options=options,
        total=sum(option.count for option in options),
        voted=bool(chosen),
    )


def post_of(
    item: dict[str, Any],
    *,
    reactions: str,
    allowed_reactions: list[str],
    pinned: frozenset[str] = frozenset(),
) -> PostView:
    """A post of the feed (`PostPublic` or `TimelineItem`) for the templates;
    `reactions`/`allowed_reactions` are its channel's setting."""
    body = item.get("body") or {}
    counters = item.get("counters") or {}
    media = body.get("media")
    poll = body.get("poll")
    return PostView(
        post_id=str(item["post_id"]),
        channel_id=str(item["channel_id"]),
        seq=int(item["seq"]),
        type=str(body.get("type") or "text"),
        text=body.get("text"),
        caption=body.get("caption"),
        media=MediaView(
            media_id=str(media["media_id"]),
            kind=str(media.get("kind") or ""),
            mime=str(media.get("mime") or ""),
            width=media.get("width"),
            height=media.get("height"),
        )
        if media
        else None,
        poll=poll_of(poll, counters.get("votes") or {}, item.get("my_vote")) if poll else None,
        created_at=datetime.fromisoformat(str(item["created_at"])),
        edited=item.get("edited_at") is not None,
        views=int(counters.get("views") or 0),
        reactions=reactions_of(
            reactions, allowed_reactions, counters.get("reactions") or {}, item.get("my_reaction")
        ),
        my_reaction=item.get("my_reaction"),
        can_react=reactions not in ("none", COUNTED_ONLY),
        channel=item.get("channel"),
        pinned=str(item["post_id"]) in pinned,
    )
