"""Per push-service host state: a concurrency limit and a circuit breaker, in a bounded LRU.

A host is scheme + host + port. Hosts come from user-supplied endpoints, so the table
holds at most `max_hosts` of them and forgets the least recently used; a send in flight
keeps its own reference, so evicting a host only forgets its breaker history.

The breaker counts consecutive failures that say the host is unwell (timeouts, connection
errors, 5xx): after `failure_threshold` of them it opens and sends to that host fail at
once for `open_s`; then one probe is let through (half-open) and its result closes or
reopens it. Any answer below 500 means the host works (a 429 asks to slow down and is
retried honouring Retry-After, but it is not a failure here).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

# Metric label values: the push services users actually subscribe through, matched by
# hostname suffix; every other host is `other`, so a label never names a user's host.
KNOWN_HOSTS: tuple[tuple[str, str], ...] = (
    ("fcm.googleapis.com", "fcm"),
    ("push.services.mozilla.com", "mozilla"),
    ("push.apple.com", "apple"),
    ("notify.windows.com", "windows"),
    ("ntfy.sh", "ntfy"),
)
HOST_LABELS = (*(label for _, label in KNOWN_HOSTS), "other")


def host_label(hostname: str) -> str:
    """The metric label of a push-service hostname: a KNOWN_HOSTS name or `other`."""
    name = hostname.lower().rstrip(".")
    for suffix, label in KNOWN_HOSTS:
        if name == suffix or name.endswith("." + suffix):
            return label
    return "other"


@dataclass
class Breaker:
    """A consecutive-failure circuit breaker (closed → open → half-open → …)."""

    failure_threshold: int
    open_s: float
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    def allow(self) -> bool:
        """Whether a request may go out now; in half-open state only one probe does."""
        if self.opened_at is None:
            return True
        if self.clock() - self.opened_at < self.open_s or self.probing:
            return False
        self.probing = True
        return True

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self) -> bool:
        """Record a failure; True when this one opened (or reopened) the breaker."""
        self.failures += 1
        was_probe = self.probing
        self.probing = False
        if was_probe or (self.opened_at is None and self.failures >= self.failure_threshold):
            self.opened_at = self.clock()
            return True
        return False

    def abandon(self) -> None:
        """A request ended without a verdict (cancelled): free the probe it may hold."""
        self.probing = False

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None


@dataclass
class HostState:
    """One host's slots and breaker, plus its fixed metric label."""

    label: str
    slots: asyncio.Semaphore
    breaker: Breaker


class HostTable:
    """HostState by (scheme, host, port), at most `max_hosts`, least recently used evicted."""

    def __init__(
        self,
        *,
        max_hosts: int,
        concurrency: int,
        failure_threshold: int,
        open_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_hosts = max_hosts
        self._concurrency = concurrency
        self._failure_threshold = failure_threshold
        self._open_s = open_s
        self._clock = clock
        self._hosts: OrderedDict[tuple[str, str, int], HostState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hosts)

    def get(self, scheme: str, host: str, port: int) -> HostState:
        key = (scheme, host.lower(), port)
        state = self._hosts.get(key)
        if state is None:
            state = HostState(
                label=host_label(host),
                slots=asyncio.Semaphore(self._concurrency),
                breaker=Breaker(self._failure_threshold, self._open_s, self._clock),
            )
            self._hosts[key] = state
            while len(self._hosts) > self._max_hosts:
                self._hosts.popitem(last=False)
        else:
            self._hosts.move_to_end(key)
        return state

    def open_count(self) -> int:
        """How many remembered hosts have an open breaker."""
        return sum(1 for state in self._hosts.values() if state.breaker.is_open)
