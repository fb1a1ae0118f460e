"""Kafka's share of the retention promise: topics that carry content keep it ≤ 30 days.

For each declared topic with `carries_content` (posts, live, DLQ), in this namespace:
`retention.ms` must be at most the longest retention (30 days) and `segment.ms` at most
an hour (a segment is deleted only whole, after its newest record expires, so a long
segment would keep old records well past `retention.ms`). A value above the limit, or
infinite (-1), is set back to the topic's declared value.

`AlterConfigs` replaces a topic's whole set of dynamic configs, so the correction is sent
together with every config already set on the topic (config source "dynamic topic"):
an operator's other settings survive. Each correction is logged and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.metrics.retention import TOPIC_CONFIGS_CORRECTED
from shared.settings import HeraldSettings
from shared.topics import ALL_TOPICS, CONTENT_RETENTION_MS, SEGMENT_MS, TopicSpec

log = logging.getLogger(__name__)

CONTENT_TOPICS: tuple[TopicSpec, ...] = tuple(t for t in ALL_TOPICS if t.carries_content)
LIMITS: dict[str, int] = {"retention.ms": CONTENT_RETENTION_MS, "segment.ms": SEGMENT_MS}
# DescribeConfigs v1+ `config_source`: set on the topic itself.
DYNAMIC_TOPIC_CONFIG = 1
# Kafka error code of a topic that does not exist (yet): nothing to correct.
UNKNOWN_TOPIC_OR_PARTITION = 3


class TopicConfigError(Exception):
    pass


@dataclass(frozen=True)
class TopicConfig:
    values: dict[str, str]
    # Only the configs set on the topic itself (what AlterConfigs replaces).
    dynamic: dict[str, str]


def corrections(spec: TopicSpec, values: dict[str, str]) -> dict[str, str]:
    """The configs of a topic above Herald's limits, mapped to the values to set."""
    declared = {"retention.ms": spec.retention_ms, "segment.ms": spec.segment_ms}
    fixes: dict[str, str] = {}
    for key, limit in LIMITS.items():
        raw = values.get(key)
        try:
            current = int(raw) if raw is not None else -1
        except ValueError:
            current = -1
        if current < 0 or current > limit:
            fixes[key] = str(min(declared[key], limit))
    return fixes


async def describe(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, TopicConfig]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    found: dict[str, TopicConfig] = {}
    for response in await admin.describe_configs(resources):
        for error_code, error_message, _type, name, entries in response.resources:
            if error_code == UNKNOWN_TOPIC_OR_PARTITION:
                continue
            if error_code:
                raise TopicConfigError(f"describe {name}: {error_code} {error_message}")
            values: dict[str, str] = {}
            dynamic: dict[str, str] = {}
            for entry in entries:
                key, value, source = entry[0], entry[1], entry[3]
                values[key] = value
                # v0 answers `is_default` (a bool) where v1+ answer `config_source`.
                is_dynamic = (
                    (not source) if isinstance(source, bool) else (source == DYNAMIC_TOPIC_CONFIG)
                )
                if is_dynamic and value is not None:
                    dynamic[key] = value
            found[name] = TopicConfig(values, dynamic)
    return found


async def check_topic_configs(settings: HeraldSettings) -> dict[str, dict[str, str]]:
    """Correct the content topics' configs; return `{topic: {config: new value}}` changed."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15000
    )
    await admin.start()
    try:
        names = {settings.topic(spec.name): spec for spec in CONTENT_TOPICS}
        current = await describe(admin, list(names))
        changed: dict[str, dict[str, str]] = {}
        for name, spec in names.items():
            config = current.get(name)
            if config is None:
                continue  # not created yet: ensure_topics creates it with the right configs
            fixes = corrections(spec, config.values)
            if not fixes:
                continue
            resource = ConfigResource(
                ConfigResourceType.TOPIC, name, configs={**config.dynamic, **fixes}
            )
            for response in await admin.alter_configs([resource]):
                for error_code, error_message, *_rest in response.resources:
                    if error_code:
                        raise TopicConfigError(f"alter {name}: {error_code} {error_message}")
            for key, value in fixes.items():
                TOPIC_CONFIGS_CORRECTED.labels(topic=spec.name, config=key).inc()
                log.warning(
                    "topic config corrected",
                    extra={
                        "topic": name,
                        "config": key,
                        "was": config.values.get(key),
                        "now": value,
                    },
                )
            changed[name] = fixes
        return changed
    finally:
        await admin.close()
