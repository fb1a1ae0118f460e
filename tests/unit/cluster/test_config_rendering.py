"""What the cluster's data plane tells Kafka, Patroni and HAProxy, rendered from a layout:
every port comes from the layout, the durability settings the chaos run relies on are
there, and HAProxy accepts its configuration (`haproxy -c`; HAProxy is installed by the
bootstrap, so a missing one fails this test)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deploy.cluster.haproxy import haproxy_config
from deploy.cluster.kafka import broker_properties
from deploy.cluster.layout import BROKERS, PG_NODES, ClusterLayout
from deploy.cluster.patroni import patroni_config

LAYOUT = ClusterLayout(base=47000)


def properties(broker: int) -> dict[str, str]:
    lines = broker_properties(LAYOUT, broker).splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def sections(config: str) -> dict[str, list[str]]:
    """HAProxy config as `"kind name"` -> its stripped body lines."""
    found: dict[str, list[str]] = {}
    current: list[str] = []
    for line in config.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            current = found.setdefault(line.strip(), [])
        else:
            current.append(line.strip())
    return found


# ---------------------------------------------------------------- Kafka


@pytest.mark.parametrize("broker", BROKERS)
def test_each_broker_is_a_voter_on_its_own_ports(broker: int) -> None:
    props = properties(broker)
    assert props["node.id"] == str(broker)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == ",".join(
        f"{b}@127.0.0.1:{LAYOUT.kafka_controller_port(b)}" for b in BROKERS
    )
    assert f"127.0.0.1:{LAYOUT.kafka_port(broker)}" in props["advertised.listeners"]
    assert f"127.0.0.1:{LAYOUT.kafka_controller_port(broker)}" in props["listeners"]


def test_brokers_do_not_share_a_data_folder() -> None:
    assert len({properties(b)["log.dirs"] for b in BROKERS}) == len(BROKERS)


def test_topics_survive_one_broker_and_never_elect_an_out_of_sync_leader() -> None:
    props = properties(1)
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["auto.create.topics.enable"] == "false"
    # A dead broker is fenced well before Kafka's 9 s default, and its heartbeat stays
    # several times faster than the timeout.
    session = int(props["broker.session.timeout.ms"])
    assert session < 9000
    assert int(props["broker.heartbeat.interval.ms"]) * 3 <= session


# ---------------------------------------------------------------- Patroni


@pytest.mark.parametrize("node", PG_NODES)
def test_patroni_node_uses_its_layout_ports(node: str, tmp_path: Path) -> None:
    config = patroni_config(LAYOUT, node, tmp_path, Path("/usr/lib/postgresql/15/bin"))
    assert config["name"] == node
    assert config["restapi"]["listen"] == f"127.0.0.1:{LAYOUT.patroni_rest_port(node)}"
    assert config["postgresql"]["listen"] == f"127.0.0.1:{LAYOUT.pg_port(node)}"
    assert config["postgresql"]["data_dir"] == str(tmp_path / "data")
    assert config["etcd3"]["hosts"] == [f"127.0.0.1:{LAYOUT.etcd_client_port}"]


def test_both_nodes_join_the_same_patroni_cluster(tmp_path: Path) -> None:
    bindir = Path("/usr/lib/postgresql/15/bin")
    scopes = {patroni_config(LAYOUT, n, tmp_path, bindir)["scope"] for n in PG_NODES}
    assert len(scopes) == 1
    # ... and another cluster on another base does not join it.
    other = patroni_config(ClusterLayout(base=48000), "pg1", tmp_path, bindir)["scope"]
    assert other not in scopes


def test_acknowledged_commits_wait_for_the_synchronous_standby(tmp_path: Path) -> None:
    config = patroni_config(LAYOUT, "pg1", tmp_path, Path("/usr/lib/postgresql/15/bin"))
    dcs = config["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["synchronous_mode_strict"] is False
    assert dcs["postgresql"]["parameters"]["synchronous_commit"] == "on"
    # Patroni's own rule for a leader key that does not expire while the leader is healthy.
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]


def test_a_returning_old_primary_is_rewound_or_copied_afresh(tmp_path: Path) -> None:
    config = patroni_config(LAYOUT, "pg2", tmp_path, Path("/usr/lib/postgresql/15/bin"))
    assert config["bootstrap"]["dcs"]["postgresql"]["use_pg_rewind"] is True
    assert config["bootstrap"]["dcs"]["postgresql"]["parameters"]["wal_log_hints"] == "on"
    assert config["postgresql"]["remove_data_directory_on_rewind_failure"] is True


def test_postgres_is_sized_for_the_shared_machine_and_the_service_pools(tmp_path: Path) -> None:
    config = patroni_config(LAYOUT, "pg1", tmp_path, Path("/usr/lib/postgresql/15/bin"))
    parameters = config["bootstrap"]["dcs"]["postgresql"]["parameters"]
    assert parameters["shared_buffers"] == "128MB"
    assert parameters["max_connections"] >= 300


def test_only_loopback_is_trusted(tmp_path: Path) -> None:
    config = patroni_config(LAYOUT, "pg1", tmp_path, Path("/usr/lib/postgresql/15/bin"))
    for rule in config["postgresql"]["pg_hba"]:
        fields = rule.split()
        assert fields[0] == "local" or fields[3] == "127.0.0.1/32", rule


# ---------------------------------------------------------------- HAProxy


def test_haproxy_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    assert binary, "haproxy is missing: `make bootstrap` installs it"
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy_config(LAYOUT))
    checked = subprocess.run(
        [binary, "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert "[WARNING]" not in checked.stderr, checked.stderr


def test_primary_port_reaches_only_the_patroni_leader() -> None:
    config = sections(haproxy_config(LAYOUT))
    front = config["frontend pg_primary"]
    assert f"bind 127.0.0.1:{LAYOUT.pg_primary_port}" in front
    assert "default_backend pg_leader" in front
    backend = config["backend pg_leader"]
    assert "http-check send meth GET uri /primary" in backend
    assert any("on-marked-down shutdown-sessions" in line for line in backend)
    for node in PG_NODES:
        assert (
            f"server {node} 127.0.0.1:{LAYOUT.pg_port(node)} "
            f"check port {LAYOUT.patroni_rest_port(node)}"
        ) in backend


def test_replica_port_prefers_a_replica_and_falls_back_to_the_leader() -> None:
    config = sections(haproxy_config(LAYOUT))
    front = config["frontend pg_replica"]
    assert f"bind 127.0.0.1:{LAYOUT.pg_replica_port}" in front
    assert "use_backend pg_replicas if { nbsrv(pg_replicas) gt 0 }" in front
    assert "default_backend pg_leader" in front
    assert "http-check send meth GET uri /replica" in config["backend pg_replicas"]


@pytest.mark.parametrize("service", ["web", "publisher", "feed"])
def test_each_http_pair_is_balanced_over_its_ready_processes(service: str) -> None:
    body = sections(haproxy_config(LAYOUT))[f"listen {service}"]
    assert f"bind 127.0.0.1:{LAYOUT.http_front_port(service)}" in body
    assert "http-check send meth GET uri /readyz" in body
    assert "option redispatch" in body
    assert not any(line.startswith("retry-on") for line in body)  # connection failures only
    assert "option http-buffer-request" not in body
    servers = [line for line in body if line.startswith("server ")]
    assert [s.split()[2] for s in servers] == [
        f"127.0.0.1:{LAYOUT.service_port(service, r)}" for r in (1, 2)
    ]


def test_feed_streams_may_stay_quiet_longer_than_other_responses() -> None:
    config = sections(haproxy_config(LAYOUT))
    feed = config["listen feed"]
    assert "timeout server 1h" in feed and "timeout client 1h" in feed
    assert "timeout server 60s" in config["defaults"]
    assert not any(line.startswith("timeout") for line in config["listen publisher"])


def test_idle_pooled_database_connections_are_not_cut() -> None:
    config = sections(haproxy_config(LAYOUT))
    for front in ("frontend pg_primary", "frontend pg_replica"):
        assert "timeout client 1h" in config[front]
    for backend in ("backend pg_leader", "backend pg_replicas"):
        assert "timeout server 1h" in config[backend]


def test_stats_on_the_layout_port() -> None:
    stats = sections(haproxy_config(LAYOUT))["listen stats"]
    assert f"bind 127.0.0.1:{LAYOUT.haproxy_stats_port}" in stats
