"""The sender's metrics, bound once per host label.

`labels()` costs a lock and a dict lookup on every call; at thousands of pushes a second
and four metric updates per push that is measurable, and the label set is fixed
(hosts.HOST_LABELS x outcomes x status classes), so every child is bound up front.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from services.push.sender.hosts import HOST_LABELS
from services.push.sender.model import Outcome
from shared.metrics import push as metrics

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")


class HostMeters:
    """The metric children of one host label."""

    def __init__(self, label: str) -> None:
        self.sends: dict[Outcome, Counter] = {
            outcome: metrics.PUSH_SENDS.labels(label, outcome.value) for outcome in Outcome
        }
        self.requests: dict[str, Counter] = {
            status_class: metrics.PUSH_REQUESTS.labels(label, status_class)
            for status_class in STATUS_CLASSES
        }
        self.request_seconds: Histogram = metrics.PUSH_REQUEST_SECONDS.labels(label)
        self.retries: Counter = metrics.PUSH_RETRIES.labels(label)
        self.breaker_opened: Counter = metrics.PUSH_BREAKER_OPENED.labels(label)

    def request(self, status: int | None) -> None:
        """Count one request by its status class (None: timeout or connection failure)."""
        error = self.requests["error"]
        (error if status is None else self.requests.get(f"{status // 100}xx", error)).inc()


METERS: dict[str, HostMeters] = {label: HostMeters(label) for label in HOST_LABELS}
