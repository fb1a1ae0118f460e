"""Settings of a multi-node deployment: several bootstrap brokers, `min.insync.replicas`
of the created topics, and the optional read replica URL."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.settings import HeraldSettings
from shared.topics import POSTS, new_topics, replication_mismatches, topic_configs


def settings(**env: Any) -> HeraldSettings:
    return HeraldSettings(_env_file=None, **env)


def test_several_bootstrap_brokers_are_one_normalised_list() -> None:
    configured = settings(kafka_bootstrap=" kafka1:9092, kafka2:9093 ,10.0.0.3:9094,[::1]:9095 ")
    assert configured.kafka_bootstrap == "kafka1:9092,kafka2:9093,10.0.0.3:9094,[::1]:9095"


@pytest.mark.parametrize(
    "value", ["", " , ", "kafka://kafka1:9092", "kafka1:9092;kafka2:9092", "kafka1:port"]
)
def test_a_bootstrap_list_that_no_client_could_use_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="HERALD_KAFKA_BOOTSTRAP"):
        settings(kafka_bootstrap=value)


def test_min_insync_replicas_is_set_on_created_topics_only_when_configured() -> None:
    assert "min.insync.replicas" not in topic_configs(settings(), POSTS)
    assert "min.insync.replicas" not in topic_configs(settings(kafka_min_insync_replicas=""), POSTS)
    cluster = settings(kafka_replication_factor=3, kafka_min_insync_replicas=2)
    (posts,) = new_topics(cluster, (POSTS,))
    assert posts.replication_factor == 3
    assert posts.topic_configs["min.insync.replicas"] == "2"
    # The declared configs stay.
    assert posts.topic_configs["retention.ms"] == str(POSTS.retention_ms)


def test_min_insync_above_the_replication_factor_is_refused() -> None:
    # Every acks=all send to such a topic would fail: refuse the setting, not the sends.
    with pytest.raises(ValidationError, match="MIN_INSYNC"):
        settings(kafka_replication_factor=1, kafka_min_insync_replicas=2)


def test_an_empty_read_url_means_no_replica() -> None:
    assert settings(database_read_url="").database_read_url is None
    url = "postgresql://herald@127.0.0.1:5001/herald"
    assert settings(database_read_url=url).database_read_url == url


def test_topics_with_another_replication_factor_are_named() -> None:
    described = [
        {"topic": "a", "error_code": 0, "partitions": [{"replicas": [1, 2, 3]}] * 2},
        {"topic": "b", "error_code": 0, "partitions": [{"replicas": [1]}, {"replicas": [2]}]},
        {"topic": "c", "error_code": 3, "partitions": []},
    ]
    assert replication_mismatches(described, 3) == {"b": 1}
    assert replication_mismatches(described, 1) == {"a": 3}
