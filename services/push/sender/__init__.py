"""The Web Push sending library of the push service: RFC 8291 encryption, RFC 8292 VAPID,
and `PushSender`, the HTTP client with per-host limits, circuit breakers and retries."""

from services.push.sender.client import PushSender
from services.push.sender.model import Outcome, Subscription

__all__ = ["Outcome", "PushSender", "Subscription"]
