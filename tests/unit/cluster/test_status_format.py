"""`make cluster-status` says who leads what, and what is down."""

from __future__ import annotations

from deploy.cluster.dataplane import ClusterStatus, PgNodeStatus


def status(leader: int | None, pg1: str, pg2: str) -> ClusterStatus:
    return ClusterStatus(
        kafka_controller_leader=leader,
        brokers={1: 101, 2: None, 3: 103},
        pg={
            "pg1": PgNodeStatus(pg1, "running" if pg1 != "stopped" else "", 201, 211),
            "pg2": PgNodeStatus(pg2, "running" if pg2 != "stopped" else "", None, None),
        },
        etcd_pid=301,
        haproxy_pid=None,
        ports={"kafka-1": 41000, "kafka-2": 41001, "kafka-3": 41002, "pg1": 41030, "pg2": 41031},
    )


def test_names_the_leaders_and_the_stopped() -> None:
    lines = status(3, "leader", "stopped").format().splitlines()
    assert "kafka quorum leader: broker 3" in lines
    assert "kafka broker 2 (:41001): stopped" in lines
    assert "kafka broker 1 (:41000): pid 101" in lines
    assert "postgres leader: pg1" in lines
    assert any(line.startswith("postgres pg1 (:41030): leader (running)") for line in lines)
    assert any(line.startswith("postgres pg2 (:41031): stopped,") for line in lines)
    assert any(line.startswith("haproxy") and line.endswith("stopped") for line in lines)


def test_says_when_nothing_leads() -> None:
    text = status(None, "replica", "replica").format()
    assert "kafka quorum leader: none" in text
    assert "postgres leader: none" in text
