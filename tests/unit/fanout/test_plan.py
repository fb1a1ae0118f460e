"""The pure posts plan: seqs, duplicates, rejections, folding of edits and deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.fanout.consumer.records import Record
from services.fanout.posts.plan import ChannelState, plan_posts
from shared.events.envelope import Event
from tests.integration.fanout.helpers import channel_deleted, deleted, edited, published

NOW = datetime.now(UTC)


def records(*events: Event) -> list[Record]:
    return [
        Record(e, "t", 0, i, str(e.payload.channel_id).encode(), e.encode())
        for i, e in enumerate(events)
    ]


def active(last_seq: int = 0, retention_days: int = 30) -> ChannelState:
    return ChannelState("active", last_seq, retention_days)


def test_new_posts_take_contiguous_seqs_after_last_seq_and_duplicates_are_skipped() -> None:
    c = uuid4()
    a, b, old = published(c), published(c), published(c)
    plan = plan_posts(records(old, a, a, b), {c: active(7)}, {old.payload.post_id}, NOW)
    assert [(p.post_id, p.seq) for p in plan.new_posts] == [
        (a.payload.post_id, 8),
        (b.payload.post_id, 9),
    ]
    assert plan.duplicates == 2
    assert plan.channel_heads[c][0] == 9
    assert plan.new_posts[0].expires_at == a.payload.created_at + timedelta(days=30)


def test_unknown_and_deleted_channels_are_rejected_including_after_channel_deleted() -> None:
    c, gone = uuid4(), uuid4()
    before, after = published(c), published(c)
    plan = plan_posts(
        records(published(UUID(int=1)), before, channel_deleted(c), after, published(gone)),
        {c: active(), gone: ChannelState("deleted", 3, 30)},
        set(),
        NOW,
    )
    assert [p.post_id for p in plan.new_posts] == [before.payload.post_id]
    assert [error.split(" ")[0] for _, error in plan.rejected] == ["unknown", "channel", "channel"]


def test_expired_posts_are_not_resurrected() -> None:
    c = uuid4()
    later = NOW + timedelta(days=2)
    plan = plan_posts(records(published(c)), {c: active(retention_days=1)}, set(), later)
    assert plan.new_posts == [] and plan.expired == 1


def test_edits_fold_and_a_delete_wins_over_them() -> None:
    c = uuid4()
    p, q = uuid4(), uuid4()
    plan = plan_posts(
        records(
            edited(c, p, "one"),
            edited(c, q, "two"),
            deleted(c, q),
            edited(c, q, "after delete"),
            edited(c, p, "three"),
        ),
        {c: active(2)},
        set(),
        NOW,
    )
    assert [(e.post_id, e.text) for e in plan.edits] == [(p, "three")]
    assert [d.post_id for d in plan.deletes] == [q]


def test_an_event_not_keyed_by_its_channel_is_rejected() -> None:
    c = uuid4()
    good, stray, unkeyed = published(c), published(c), published(c)
    batch = records(good, stray, unkeyed)
    batch[1] = Record(stray, "t", 0, 1, str(uuid4()).encode(), stray.encode())
    batch[2] = Record(unkeyed, "t", 0, 2, None, unkeyed.encode())
    plan = plan_posts(batch, {c: active()}, set(), NOW)
    assert [p.post_id for p in plan.new_posts] == [good.payload.post_id]
    assert [r.event for r, _ in plan.rejected] == [stray, unkeyed]


def test_sealed_versions_carry_their_keys_and_superseded_ones_are_discarded() -> None:
    from datetime import date

    from services.fanout.posts.opening import KeyRef

    c = uuid4()
    post = published(c)
    pid = post.payload.post_id
    first, second = edited(c, pid, "one"), edited(c, pid, "two")
    gone = published(c)
    late = edited(c, gone.payload.post_id, "after its delete")
    keys = {
        e.event_id: KeyRef(uuid4(), date(2027, 1, 1)) for e in (post, first, second, gone, late)
    }
    batch = records(post, first, second, gone, deleted(c, gone.payload.post_id), late)
    plan = plan_posts(batch, {c: active()}, set(), NOW, keys)
    assert [p.key for p in plan.new_posts] == [keys[post.event_id], keys[gone.event_id]]
    (edit,) = plan.edits
    assert (edit.text, edit.key) == ("two", keys[second.event_id])
    # The folded-over edit and the edit after the delete never become current.
    assert plan.discarded_keys == [keys[first.event_id], keys[late.event_id]]
