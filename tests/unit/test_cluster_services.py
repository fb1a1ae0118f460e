"""Cluster mode's service processes: what each of the twelve is told (pure, no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.cluster.layout import SERVICES, ClusterLayout
from deploy.cluster.services import (
    DB_POOL_MAX,
    MEMBERS,
    Member,
    member,
    service_env,
    shared_env,
)
from deploy.service_env import OPS_PORT_VARS, PORT_VARS

LAYOUT = ClusterLayout(42000)
SHARED = shared_env(LAYOUT, "cluster-1:key", Path("/keys/vapid.pem"))


def env_of(process: Member, **inherited: str) -> dict[str, str]:
    return service_env(LAYOUT, process, SHARED, inherited)


def test_two_processes_of_each_service_on_ports_of_their_own() -> None:
    assert sorted({p.service for p in MEMBERS}) == sorted(SERVICES)
    assert all(sum(p.service == s for p in MEMBERS) == 2 for s in SERVICES)
    ports = []
    for process in MEMBERS:
        env = env_of(process)
        ports.append(int(env[PORT_VARS[process.service]]))
        if process.service in OPS_PORT_VARS:
            ports.append(int(env[OPS_PORT_VARS[process.service]]))
    assert len(ports) == len(set(ports)) == 12 + 6
    assert int(env_of(Member("feed", 2))["HERALD_FEED_PORT"]) == LAYOUT.service_port("feed", 2)


def test_every_process_uses_all_brokers_replicated_topics_and_the_primary() -> None:
    for process in MEMBERS:
        env = env_of(process)
        assert env["HERALD_KAFKA_BOOTSTRAP"].split(",") == [
            "127.0.0.1:42000",
            "127.0.0.1:42001",
            "127.0.0.1:42002",
        ]
        assert env["HERALD_KAFKA_REPLICATION_FACTOR"] == "3"
        assert env["HERALD_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["HERALD_DATABASE_URL"].endswith(f":{LAYOUT.pg_primary_port}/herald")
        assert env["HERALD_CONTENT_MASTER_KEY"] == "cluster-1:key"
        assert env["HERALD_PUSH_VAPID_PRIVATE_KEY_FILE"] == "/keys/vapid.pem"
        # The pair is the redundancy: no worker processes inside a process.
        assert env["HERALD_FEED_WORKERS"] == env["HERALD_PUSH_PROCESSES"] == "1"


def test_only_the_feed_reads_from_the_replica_port() -> None:
    readers = {p.service for p in MEMBERS if "HERALD_DATABASE_READ_URL" in env_of(p)}
    assert readers == {"feed"}
    read_url = env_of(Member("feed", 1))["HERALD_DATABASE_READ_URL"]
    assert read_url.endswith(f":{LAYOUT.pg_replica_port}/herald")


def test_web_calls_the_api_pairs_through_haproxy_and_is_their_cors_origin() -> None:
    env = env_of(Member("web", 1))
    assert (
        env["HERALD_WEB_PUBLISHER_URL"] == f"http://127.0.0.1:{LAYOUT.http_front_port('publisher')}"
    )
    assert env["HERALD_WEB_FEED_URL"] == f"http://127.0.0.1:{LAYOUT.http_front_port('feed')}"
    web_front = f"http://127.0.0.1:{LAYOUT.http_front_port('web')}"
    assert env["HERALD_WEB_PUBLIC_URL"] == web_front
    assert web_front in env["HERALD_CORS_ORIGINS"].split(",")


def test_the_cluster_addresses_win_over_the_callers_environment_and_extras_over_both() -> None:
    process = Member("publisher", 1)
    env = service_env(
        LAYOUT,
        process,
        SHARED,
        {"HERALD_DATABASE_URL": "postgresql://elsewhere/x", "HERALD_LOG_LEVEL": "DEBUG"},
        {"HERALD_RATE_PER_SECOND": "1000"},
    )
    assert env["HERALD_DATABASE_URL"] == LAYOUT.database_url
    assert env["HERALD_LOG_LEVEL"] == "DEBUG"
    assert env["HERALD_RATE_PER_SECOND"] == "1000"


def test_all_pools_together_fit_one_postgres_node_many_times_over() -> None:
    per_node = sum(int(env_of(p)["HERALD_DB_POOL_MAX"]) for p in MEMBERS)
    assert per_node == 2 * sum(DB_POOL_MAX.values())
    # Patroni's nodes allow about 300; a failover briefly doubles the connections.
    assert 2 * per_node < 300


def test_processes_are_named_service_dash_replica() -> None:
    assert member("publisher-2") == Member("publisher", 2)
    assert member("fanout-1").name == "fanout-1"
    for bad in ("publisher-3", "publisher", "kafka-1", "-1"):
        with pytest.raises(ValueError, match="no cluster process"):
            member(bad)
