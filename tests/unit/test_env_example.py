"""`.env.example` names every setting a Herald process reads, and nothing it doesn't."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from services.fanout.config import FanoutSettings
from services.feed.config import FeedSettings
from services.publisher.config import PublisherSettings
from services.push.config import PushSettings
from services.retention.config import RetentionSettings
from services.web.config import WebSettings
from shared.http.protocol import HttpLimits

ROOT = Path(__file__).resolve().parents[2]
# Read by the local stack tooling (deploy/local), not by a service's Settings.
LOCAL_STACK_VARS = {
    "HERALD_LOCAL_KAFKA_PORT",
    "HERALD_LOCAL_KAFKA_CONTROLLER_PORT",
    "HERALD_LOCAL_PG_PORT",
    "HERALD_LOCAL_PROMETHEUS_PORT",
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def test_env_example_lists_exactly_the_settings() -> None:
    listed = set(re.findall(r"^(HERALD_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    read = set().union(
        *(
            env_names(s)
            for s in (
                PublisherSettings,
                FeedSettings,
                FanoutSettings,
                RetentionSettings,
                PushSettings,
                WebSettings,
                # The HTTP server's own bounds, read by serve_http in publisher, feed, web.
                HttpLimits,
            )
        )
    )
    assert read - listed == set(), "settings missing from .env.example"
    assert listed - read - LOCAL_STACK_VARS == set(), ".env.example names unknown settings"
