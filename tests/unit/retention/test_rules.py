"""Retention's pure rules: which partitions are expired, which topic configs need fixing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from uuid6 import uuid7

from services.retention.channels import delete_by_channel_sql
from services.retention.partitions import DayPartition, is_expired, parse_partition_name
from services.retention.posts import uuid7_floor
from services.retention.topics import corrections
from shared.topics import DAY_MS, DLQ, HOUR_MS, LIVE, POSTS


def _partition(day: date) -> DayPartition:
    return DayPartition("posts", f"posts_p{day:%Y%m%d}", day, True, False)


def test_partition_names_are_parsed_strictly() -> None:
    assert parse_partition_name("posts_p20260131") == ("posts", date(2026, 1, 31))
    assert parse_partition_name("feed_items_p20251225") == ("feed_items", date(2025, 12, 25))
    assert parse_partition_name("posts_p20260231") is None
    assert parse_partition_name("posts_default") is None
    assert parse_partition_name("media_p20260101") is None


def test_a_partition_expires_once_its_last_instant_is_thirty_days_old() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert is_expired(_partition(date(2026, 2, 28)), now)
    assert is_expired(_partition(date(2026, 2, 28)), datetime(2026, 3, 31, 0, 0, tzinfo=UTC))
    assert not is_expired(_partition(date(2026, 3, 1)), now)
    assert not is_expired(_partition(date(2026, 3, 31)), now)


def test_topic_configs_above_the_limits_are_set_back_to_the_declared_values() -> None:
    ok = {"retention.ms": str(30 * DAY_MS), "segment.ms": str(HOUR_MS)}
    assert corrections(POSTS, ok) == {}
    assert corrections(POSTS, {"retention.ms": str(90 * DAY_MS), "segment.ms": "604800000"}) == {
        "retention.ms": str(30 * DAY_MS),
        "segment.ms": str(HOUR_MS),
    }
    # Infinite retention is the worst case, not "no limit set".
    assert corrections(LIVE, {"retention.ms": "-1", "segment.ms": str(HOUR_MS)}) == {
        "retention.ms": str(DAY_MS)
    }
    assert corrections(DLQ, {"segment.ms": str(HOUR_MS)}) == {"retention.ms": str(30 * DAY_MS)}
    # Shorter than the limit is the operator's choice.
    assert corrections(POSTS, {"retention.ms": str(DAY_MS), "segment.ms": "600000"}) == {}


def test_channel_deletes_are_bounded_and_keyed() -> None:
    sql = delete_by_channel_sql("reactions", "post_id, account_id")
    assert "WHERE channel_id = $1 LIMIT $2" in sql
    assert "(t.post_id, t.account_id) = (d.post_id, d.account_id)" in sql


def test_post_ids_order_by_their_creation_time_against_the_floor() -> None:
    before = datetime.now(UTC)
    post_id = uuid7()
    assert uuid7_floor(before - timedelta(seconds=1)) < post_id
    assert post_id < uuid7_floor(before + timedelta(seconds=1))
    assert uuid7_floor(datetime(1970, 1, 1, tzinfo=UTC)) == UUID(int=0)
