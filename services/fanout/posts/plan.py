"""The pure step of the posts path: from a batch of post events and the locked state of
their channels to the writes they imply. No I/O, so every rule is unit-tested.

Rules, applied in log order (one partition = one channel's order):
- an event whose Kafka key is not its channel id is rejected (→ DLQ): it may sit on
  another partition than its channel's other events, so its order relative to them (a
  delete before its publish) is not guaranteed; the publisher always keys by channel;
- an event for a channel that does not exist, or whose status is `deleted`, or that comes
  after a `channel.deleted` in the same batch, is rejected (→ DLQ);
- a `post.published` whose post already exists, or repeats within the batch, is a
  duplicate and changes nothing; a post already past its expiry is not resurrected;
- each new post takes its channel's next seq: seqs stay contiguous from `last_seq + 1`;
- edits of one post fold into one (latest text, latest caption, latest time); an edit
  after a delete of the same post is ignored; a delete wins over earlier edits.

Content keys (crypto-shredding): sealed records arrive opened (`opening.py`) with the key
that sealed them in `keys`. A new post records its key; a folded edit carries its latest
key, and the keys of the versions it folded over (and of edits ignored after a delete)
are in `discarded_keys`, destroyed in the same transaction. A publish still sealed is one
whose key is gone for a post that exists: a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from services.fanout.consumer.records import Record
from services.fanout.posts.opening import KeyRef
from shared.events.posts import (
    ChannelDeleted,
    PostDeleted,
    PostEdited,
    PostPublished,
    PostPublishedSealed,
    Priority,
)


@dataclass(frozen=True)
class ChannelState:
    status: str
    last_seq: int
    retention_days: int


@dataclass(frozen=True)
class NewPost:
    channel_id: UUID
    post_id: UUID
    created_at: datetime
    expires_at: datetime
    seq: int
    author_id: str
    body: dict[str, object]
    request_id: str | None
    # For push, carried from the event to the live event only (no posts column: push
    # learns of a post from the live topic alone).
    silent: bool = False
    priority: Priority = "normal"
    # The content key its body came sealed under (None: a version 1 record in the clear).
    key: KeyRef | None = None


@dataclass
class Edit:
    channel_id: UUID
    post_id: UUID
    text: str | None
    caption: str | None
    edited_at: datetime
    request_id: str | None
    # The key of the latest edit folded here: the post's key once applied.
    key: KeyRef | None = None


@dataclass(frozen=True)
class Delete:
    channel_id: UUID
    post_id: UUID
    deleted_at: datetime
    request_id: str | None


@dataclass
class PostsPlan:
    new_posts: list[NewPost] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    rejected: list[tuple[Record, str]] = field(default_factory=list)
    duplicates: int = 0
    expired: int = 0
    # Keys of versions that never become current (see the module docstring).
    discarded_keys: list[KeyRef] = field(default_factory=list)
    # channel → (new last_seq, latest created_at among its new posts)
    channel_heads: dict[UUID, tuple[int, datetime]] = field(default_factory=dict)


def channel_of(record: Record) -> UUID:
    return record.event.payload.channel_id  # type: ignore[no-any-return]


def published_keys(records: Sequence[Record]) -> list[tuple[UUID, UUID, datetime]]:
    """(channel_id, post_id, created_at) of every publish: what to look up as existing."""
    return [
        (r.event.payload.channel_id, r.event.payload.post_id, r.event.payload.created_at)
        for r in records
        if isinstance(r.event, PostPublished | PostPublishedSealed)
    ]


def plan_posts(
    records: Sequence[Record],
    channels: dict[UUID, ChannelState],
    existing: set[UUID],
    now: datetime,
    keys: dict[UUID, KeyRef] | None = None,
) -> PostsPlan:
    """`keys`: the content key of each opened record, by event id."""
    keys = keys or {}
    plan = PostsPlan()
    next_seq = {cid: state.last_seq for cid, state in channels.items()}
    closed: set[UUID] = {cid for cid, s in channels.items() if s.status == "deleted"}
    seen: set[UUID] = set(existing)
    edits: dict[UUID, Edit] = {}
    deleted: set[UUID] = set()
    for record in records:
        event = record.event
        channel_id = channel_of(record)
        state = channels.get(channel_id)
        if state is None:
            plan.rejected.append((record, f"unknown channel {channel_id}"))
            continue
        if record.key != str(channel_id).encode():
            plan.rejected.append((record, "record key is not the event's channel id"))
            continue
        if isinstance(event, ChannelDeleted):
            # The publisher already marked the channel; later events for it are rejected.
            closed.add(channel_id)
            continue
        if channel_id in closed:
            plan.rejected.append((record, f"channel {channel_id} is deleted"))
            continue
        if isinstance(event, PostPublishedSealed):
            plan.duplicates += 1  # left sealed only when its post exists (opening.py)
            continue
        if isinstance(event, PostPublished):
            p = event.payload
            if p.post_id in seen:
                plan.duplicates += 1
                continue
            seen.add(p.post_id)
            expires_at = p.created_at + timedelta(days=state.retention_days)
            if expires_at <= now:
                plan.expired += 1
                continue
            next_seq[channel_id] += 1
            plan.new_posts.append(
                NewPost(
                    channel_id=channel_id,
                    post_id=p.post_id,
                    created_at=p.created_at,
                    expires_at=expires_at,
                    seq=next_seq[channel_id],
                    author_id=p.author_id,
                    body=p.body.model_dump(mode="json"),
                    request_id=event.request_id,
                    silent=p.silent,
                    priority=p.priority,
                    key=keys.get(event.event_id),
                )
            )
            head = plan.channel_heads.get(channel_id)
            latest = p.created_at if head is None else max(head[1], p.created_at)
            plan.channel_heads[channel_id] = (next_seq[channel_id], latest)
        elif isinstance(event, PostEdited):
            e = event.payload
            key = keys.get(event.event_id)
            if e.post_id in deleted:
                if key is not None:
                    plan.discarded_keys.append(key)
                continue
            folded = edits.get(e.post_id)
            if folded is None:
                edits[e.post_id] = Edit(
                    channel_id, e.post_id, e.text, e.caption, e.edited_at, event.request_id, key
                )
            else:
                folded.text = e.text if e.text is not None else folded.text
                folded.caption = e.caption if e.caption is not None else folded.caption
                folded.edited_at = max(folded.edited_at, e.edited_at)
                folded.request_id = event.request_id or folded.request_id
                if folded.key is not None:
                    plan.discarded_keys.append(folded.key)
                folded.key = key
        elif isinstance(event, PostDeleted):
            d = event.payload
            if d.post_id in deleted:
                continue
            deleted.add(d.post_id)
            edits.pop(d.post_id, None)
            plan.deletes.append(Delete(channel_id, d.post_id, d.deleted_at, event.request_id))
    plan.edits = list(edits.values())
    return plan
