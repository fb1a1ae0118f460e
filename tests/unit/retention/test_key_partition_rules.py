"""Key partitions: named by expiry day, expired once that day is over (not 30 days later)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.retention.partitions import DayPartition, is_expired, parse_partition_name


def _keys(day: date) -> DayPartition:
    return DayPartition("content_keys", f"content_keys_{day:%Y%m%d}", day, True, False)


def test_key_partition_names() -> None:
    assert parse_partition_name("content_keys_20260131") == ("content_keys", date(2026, 1, 31))
    assert parse_partition_name("content_keys_p20260131") is None
    assert parse_partition_name("content_keys_20260231") is None
    assert parse_partition_name("posts_20260131") is None


def test_a_key_day_expires_when_it_is_over() -> None:
    day = date(2026, 3, 10)
    assert not is_expired(_keys(day), datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC))
    assert is_expired(_keys(day), datetime(2026, 3, 11, 0, 0, tzinfo=UTC))
