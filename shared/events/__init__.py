"""Versioned event models, one registry per topic (see `shared.topics`)."""

from shared.events.dlq import DLQ_EVENTS
from shared.events.envelope import Event, EventRegistry, PoisonMessage
from shared.events.interactions import INTERACTION_EVENTS
from shared.events.live import LIVE_EVENTS
from shared.events.posts import POST_EVENTS

__all__ = [
    "DLQ_EVENTS",
    "INTERACTION_EVENTS",
    "LIVE_EVENTS",
    "POST_EVENTS",
    "Event",
    "EventRegistry",
    "PoisonMessage",
]
