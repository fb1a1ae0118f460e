"""The one declaration of Herald's Kafka topics, and their creation at start-up.

Topics are created explicitly (never auto-created) with their partition counts and
configs. Every topic that carries content keeps it at most `CONTENT_RETENTION_MS`, and
rolls segments at most hourly, so expired content leaves the log on time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from shared.settings import HeraldSettings

log = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000
HOUR_MS = 3600 * 1000
# Herald's promise: content is gone after 30 days, so no content topic keeps more.
CONTENT_RETENTION_MS = 30 * DAY_MS
SEGMENT_MS = HOUR_MS


def topic_base(topic: str) -> str:
    """The declared base name of a (possibly namespaced) topic, or "other": a bounded
    metric label across namespaces."""
    return topic[topic.find("herald.") :] if "herald." in topic else "other"


@dataclass(frozen=True)
class TopicSpec:
    """A topic as Herald declares it: `name` is the base name before any namespace."""

    name: str
    partitions: int
    key: str
    carries_content: bool
    retention_ms: int = CONTENT_RETENTION_MS
    segment_ms: int = SEGMENT_MS
    cleanup_policy: str = "delete"
    extra: dict[str, str] = field(default_factory=dict)

    def configs(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "segment.ms": str(self.segment_ms),
            "cleanup.policy": self.cleanup_policy,
            **self.extra,
        }


POSTS = TopicSpec("herald.posts.v1", partitions=12, key="channel_id", carries_content=True)
INTERACTIONS = TopicSpec(
    "herald.interactions.v1",
    partitions=12,
    key="post_id",
    carries_content=False,
    # Interactions carry account ids; they need only live long enough to be counted.
    retention_ms=7 * DAY_MS,
)
LIVE = TopicSpec(
    "herald.live.v1",
    partitions=6,
    key="channel_id",
    carries_content=True,
    # Live events are for connected clients; replay after a reconnect comes from Postgres.
    retention_ms=DAY_MS,
)
DLQ = TopicSpec("herald.dlq.v1", partitions=3, key="original key", carries_content=True)
PUSH = TopicSpec(
    "herald.push.v1",
    partitions=12,
    # The post id with the shard number: one post's shards spread over the partitions, so
    # every push process shares a large post's work.
    key="post_id:shard",
    # Shard records name a post and a slice of its audience by number: no account ids,
    # endpoints or text, so the log never holds a follower list.
    carries_content=False,
    # Internal work queue of the push service: a shard older than a day is not worth sending.
    retention_ms=DAY_MS,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (POSTS, INTERACTIONS, LIVE, DLQ, PUSH)


def topic_configs(settings: HeraldSettings, spec: TopicSpec) -> dict[str, str]:
    """What a topic is created with: its declared configs, and the deployment's
    `min.insync.replicas` when set (else the broker's default applies)."""
    configs = spec.configs()
    if settings.kafka_min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(settings.kafka_min_insync_replicas)
    return configs


def new_topics(
    settings: HeraldSettings, specs: tuple[TopicSpec, ...] = ALL_TOPICS
) -> list[NewTopic]:
    return [
        NewTopic(
            name=settings.topic(spec.name),
            num_partitions=spec.partitions,
            replication_factor=settings.kafka_replication_factor,
            topic_configs=topic_configs(settings, spec),
        )
        for spec in specs
    ]


def replication_mismatches(
    described: list[dict[str, Any]], replication_factor: int
) -> dict[str, int]:
    """`{topic: replicas}` of the described topics whose partitions do not all have
    `replication_factor` replicas (the smallest count found). Topics the broker could not
    describe are left out."""
    mismatched: dict[str, int] = {}
    for entry in described:
        partitions = entry.get("partitions") or []
        if entry.get("error_code") or not partitions:
            continue
        counts = {len(p.get("replicas") or ()) for p in partitions}
        if counts != {replication_factor}:
            mismatched[entry["topic"]] = min(counts)
    return mismatched


async def ensure_topics(
    settings: HeraldSettings, specs: tuple[TopicSpec, ...] = ALL_TOPICS
) -> list[str]:
    """Create the declared topics that are missing; return the names created.

    Existing topics are left as they are: the retention service checks and corrects
    their configs. One whose replication factor differs from
    `HERALD_KAFKA_REPLICATION_FACTOR` (created before a move to a cluster, say) is
    logged as a warning and used anyway: changing it is a partition reassignment, an
    operator's decision, and a process refusing to start would not make it.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=15000
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        declared = new_topics(settings, specs)
        missing = [t for t in declared if t.name not in existing]
        present = [t.name for t in declared if t.name in existing]
        if present:
            described = await admin.describe_topics(present)
            wanted = settings.kafka_replication_factor
            for name, replicas in replication_mismatches(described, wanted).items():
                log.warning(
                    "topic has another replication factor than configured",
                    extra={"topic": name, "replicas": replicas, "configured": wanted},
                )
        created: list[str] = []
        for topic in missing:
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass  # another process won the race: fine
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def describe_topic_configs(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, dict[str, str]]:
    """The current config of each named topic, as `{topic: {key: value}}`."""
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        # Each resource is (error_code, error_message, type, name, [(key, value, …), …]).
        for resource in response.resources:
            configs[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
    return configs
