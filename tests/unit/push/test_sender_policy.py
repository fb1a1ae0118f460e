"""The sender's pure policies: host labels, the circuit breaker, the host table's bound,
Retry-After and backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from services.push.sender.hosts import HOST_LABELS, Breaker, HostTable, host_label
from services.push.sender.retry import backoff_s, next_wait_s, retry_after_s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_host_labels_come_from_a_fixed_list() -> None:
    assert host_label("fcm.googleapis.com") == "fcm"
    assert host_label("updates.push.services.mozilla.com") == "mozilla"
    assert host_label("web.push.apple.com") == "apple"
    assert host_label("wns2-by3p.notify.windows.com") == "windows"
    assert host_label("FCM.googleapis.com.") == "fcm"
    assert host_label("evilfcm.googleapis.com.attacker.example") == "other"
    assert host_label("notfcm.googleapis.com") == "other"
    assert host_label("127.0.0.1") == "other"
    assert set(HOST_LABELS) == {"fcm", "mozilla", "apple", "windows", "ntfy", "other"}


def test_breaker_opens_after_consecutive_failures_then_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = Breaker(failure_threshold=3, open_s=30.0, clock=clock)
    assert not breaker.failure() and not breaker.failure()
    breaker.success()  # a success in between resets the count
    assert not breaker.failure() and not breaker.failure()
    assert breaker.failure()  # third in a row opens it
    assert not breaker.allow()
    clock.now += 30.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    assert breaker.failure()  # a failed probe reopens at once
    assert not breaker.allow()
    clock.now += 30.0
    assert breaker.allow()
    breaker.abandon()  # the probe was cancelled: another may go
    assert breaker.allow()
    breaker.success()
    assert breaker.allow() and breaker.allow() and not breaker.is_open


def test_host_table_is_keyed_by_scheme_host_port_and_bounded() -> None:
    table = HostTable(max_hosts=2, concurrency=4, failure_threshold=3, open_s=1.0)
    a = table.get("https", "a.example", 443)
    assert table.get("https", "A.example", 443) is a
    assert table.get("https", "a.example", 8443) is not a
    table.get("https", "b.example", 443)  # a.example:443 is now the least recently used
    assert len(table) == 2
    assert table.get("https", "a.example", 443) is not a  # forgotten, made afresh


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
    assert retry_after_s("7") == 7.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert retry_after_s("Wed, 02 Dec 2026 12:00:00 GMT", now=now) == 0.0  # in the past
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("-5") is None


def test_waits_honour_retry_after_up_to_a_bound_else_jittered_backoff() -> None:
    rng = random.Random(1)
    assert next_wait_s(1, "2", base_s=0.5, cap_s=4.0, max_wait_s=30.0, rng=rng) == 2.0
    assert next_wait_s(1, "31", base_s=0.5, cap_s=4.0, max_wait_s=30.0, rng=rng) is None
    backoff = next_wait_s(3, None, base_s=0.5, cap_s=4.0, max_wait_s=30.0, rng=rng)
    assert backoff is not None and 0.0 <= backoff <= 2.0
    for attempt in range(1, 10):
        wait = backoff_s(attempt, base_s=0.5, cap_s=4.0, rng=rng)
        assert 0.0 <= wait <= min(4.0, 0.5 * 2 ** (attempt - 1))
