"""A scheduled post's id: a valid UUIDv7 whose time is its `publish_at` (to the
millisecond), so its created_at and expiry count from publication, and distinct ids for
posts scheduled at the same moment."""

from __future__ import annotations

from datetime import UTC, datetime

from services.publisher.publishing import uuid7_time
from services.publisher.scheduler import uuid7_at


def test_the_id_carries_the_publication_time() -> None:
    when = datetime(2027, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    post_id = uuid7_at(when)
    assert post_id.version == 7
    assert post_id.variant == "specified in RFC 4122"
    assert uuid7_time(post_id) == when.replace(microsecond=123000)


def test_posts_scheduled_for_the_same_moment_get_distinct_ids() -> None:
    when = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)
    assert len({uuid7_at(when) for _ in range(1000)}) == 1000
