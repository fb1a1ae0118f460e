"""The fan-out encryption benchmark's pure parts: the same posts on both sides, keys that
open what they sealed, ABBA order, and figures that show a missing row or a noisy block."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from bench.fanout_encryption import (
    CLEAR,
    QUICK,
    SEALED,
    Round,
    block_ratios,
    cpu_ticks,
    cpu_used,
    round_events,
    schedule,
    side_result,
    spread,
)
from shared.content.keys import DEV_MASTER_KEY, MasterKeys
from shared.events.posts import PostPublished, PostPublishedSealed

MASTERS = MasterKeys.from_setting(DEV_MASTER_KEY)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_sealed_records_open_to_the_same_bodies_as_the_clear_ones() -> None:
    channels = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
    clear, no_keys = round_events(channels, 7, None, NOW, "r1")
    sealed, keys = round_events(channels, 7, MASTERS, NOW, "r1")
    assert no_keys == []
    assert len(keys) == len(sealed) == len(clear) == 7
    for c, s, row in zip(clear, sealed, keys, strict=True):
        assert isinstance(c.event, PostPublished)
        assert isinstance(s.event, PostPublishedSealed)
        # Spread over the channels alike, each keyed by its own channel.
        assert c.channel_id == s.channel_id == s.event.payload.channel_id
        key_id, expires_on, channel_id, post_id, master_id, wrapped = row
        assert (key_id, expires_on) == (s.event.payload.key_id, s.event.payload.key_expires_on)
        assert (channel_id, post_id) == (s.channel_id, s.post_id)
        key = MASTERS.unwrap(master_id, key_id, wrapped)
        assert s.event.payload.open(key) == c.event.payload.body
    # Round-robin: every channel gets its share.
    assert {p.channel_id for p in sealed} == set(channels)
    # Fresh posts every round, never a duplicate fan-out would skip.
    assert len({p.post_id for p in clear + sealed}) == 14


def test_rounds_alternate_abba_so_both_sides_take_the_same_drift() -> None:
    order = schedule(2)
    assert order == [CLEAR, SEALED, SEALED, CLEAR, CLEAR, SEALED, SEALED, CLEAR]
    # Mean position equal: a speed drift linear in time weighs on both sides alike.
    positions = {side: [i for i, s in enumerate(order) if s == side] for side in (CLEAR, SEALED)}
    assert sum(positions[CLEAR]) == sum(positions[SEALED])


def _round(side: str, seconds: float, rows: int = 200_000, posts: int = 200) -> Round:
    return Round(side, seconds, posts, rows, 200, 200_000)


def test_a_missing_post_or_feed_row_is_a_loss_that_fails_the_side() -> None:
    rounds = [
        _round(CLEAR, 1.0),
        _round(SEALED, 1.0, rows=199_000, posts=199),
        _round(SEALED, 1.0),
        _round(CLEAR, 1.0),
    ]
    assert rounds[1].losses == 1 + 1_000
    assert side_result(rounds, SEALED, QUICK).errors == 1_001
    assert side_result(rounds, CLEAR, QUICK).errors == 0


def test_side_rate_is_the_median_round_so_one_stalled_round_does_not_sink_it() -> None:
    rounds = [
        _round(CLEAR, 1.0),
        _round(CLEAR, 1.0),
        _round(CLEAR, 10.0),  # stalled by something else on the machine
        _round(SEALED, 1.0),
    ]
    clear = side_result(rounds, CLEAR, QUICK)
    assert clear.rate == 200_000.0
    assert clear.values["posts_per_s"] == 200.0
    assert clear.values["pooled_rows_per_s"] == 600_000 / 12.0


def test_side_spread_is_its_rounds_range_over_their_median() -> None:
    rounds = [_round(CLEAR, 1.0), _round(SEALED, 2.0), _round(SEALED, 2.0), _round(CLEAR, 3.0)]
    clear = side_result(rounds, CLEAR, QUICK)
    assert clear.values["round_spread"] == (200_000 - 200_000 / 3) / ((200_000 + 200_000 / 3) / 2)
    assert clear.baseline and not side_result(rounds, SEALED, QUICK).baseline


def test_each_abba_block_gives_its_own_ratio() -> None:
    rounds = [
        _round(CLEAR, 1.0),
        _round(SEALED, 1.0),
        _round(SEALED, 1.0),
        _round(CLEAR, 1.0),
        _round(CLEAR, 1.0),
        _round(SEALED, 1.25),
        _round(SEALED, 1.25),
        _round(CLEAR, 1.0),
        _round(CLEAR, 1.0),  # an incomplete block is left out
    ]
    assert block_ratios(rounds) == [1.0, 0.8]


def test_spread_needs_two_rounds() -> None:
    assert math.isnan(spread([5.0]))
    assert spread([90.0, 100.0, 110.0]) == 0.2


def test_cpu_ticks_are_read_after_a_command_name_holding_spaces_and_parentheses() -> None:
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime …
    line = "4242 (post gres: a (b)) S 1 1 1 0 -1 4194560 10 0 0 0 250 40 7 3 20 0 1 0"
    assert cpu_ticks(line) == 290  # utime + stime, children's time not counted


def test_cpu_used_counts_processes_seen_at_both_readings_and_an_unreadable_one_poisons_it() -> None:
    before = {1: 10.0, 2: 5.0, 3: 1.0}
    after = {1: 10.5, 2: 5.25, 4: 9.0}  # 3 went away, 4 came: neither is counted
    assert cpu_used(before, after) == 0.75
    assert math.isnan(cpu_used({1: math.nan}, {1: 2.0}))
