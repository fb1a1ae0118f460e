"""Cluster mode's Kafka: three KRaft nodes, each broker and controller at once.

The three controllers form the metadata quorum (`controller.quorum.voters`), so losing any
one broker keeps both the quorum and every partition with replication factor 3 and
`min.insync.replicas=2` writable with `acks=all`. The jars and the java command are the
local stack's (`deploy.local.stack`); each node has its folder `kafka-<id>/` under the
cluster's home with its properties, data, log and pid file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from deploy.cluster.layout import BROKERS, ClusterLayout
from deploy.cluster.proc import live_pid
from deploy.local.stack import JARS, kafka_java_cmd, new_kafka_cluster_id, port_open, stop_pid

# Three brokers share two cores and 24 GiB with two Postgres nodes and twelve service
# processes: 384 MiB each holds the test and chaos loads (the local broker has 512 MiB).
HEAP = "384m"
# A broker that answered before starts again in a few seconds; a first start formats its
# storage and elects the quorum.
START_TIMEOUT_S = 120.0


def broker_home(layout: ClusterLayout, broker: int) -> Path:
    return layout.home / f"kafka-{broker}"


def pid_file(layout: ClusterLayout, broker: int) -> Path:
    return broker_home(layout, broker) / "broker.pid"


def log_file(layout: ClusterLayout, broker: int) -> Path:
    return broker_home(layout, broker) / "broker.log"


def broker_properties(layout: ClusterLayout, broker: int) -> str:
    """server.properties of node `broker` (1..3)."""
    voters = ",".join(f"{b}@127.0.0.1:{layout.kafka_controller_port(b)}" for b in BROKERS)
    port = layout.kafka_port(broker)
    controller_port = layout.kafka_controller_port(broker)
    return "\n".join(
        [
            "process.roles=broker,controller",
            f"node.id={broker}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={broker_home(layout, broker) / 'data'}",
            "num.partitions=1",
            # Topics are created explicitly by Herald; a typo must fail, not create a topic.
            "auto.create.topics.enable=false",
            # Every topic (Herald's and Kafka's own) survives one broker's loss and keeps
            # taking acks=all writes with the two that remain.
            "default.replication.factor=3",
            "min.insync.replicas=2",
            "offsets.topic.replication.factor=3",
            "offsets.topic.num.partitions=8",
            "transaction.state.log.replication.factor=3",
            "transaction.state.log.min.isr=2",
            "share.coordinator.state.topic.replication.factor=3",
            "share.coordinator.state.topic.min.isr=2",
            # An out-of-sync replica never becomes leader: that would drop acknowledged
            # records (the default, stated because the chaos run depends on it).
            "unclean.leader.election.enable=false",
            # A killed broker is fenced (and its partitions get new leaders) after this
            # session timeout instead of 9 s; the heartbeat stays well below it so a busy
            # machine does not fence a live broker. The quorum's own election and fetch
            # timeouts (1 s, 2 s) are already short and stay at their defaults.
            "broker.session.timeout.ms=6000",
            "broker.heartbeat.interval.ms=1000",
            # A follower that stops fetching leaves the ISR after 10 s rather than 30 s.
            "replica.lag.time.max.ms=10000",
            "group.initial.rebalance.delay.ms=0",
            "log.cleaner.dedupe.buffer.size=16777216",
            "log.retention.check.interval.ms=60000",
            "",
        ]
    )


def cluster_id(layout: ClusterLayout) -> str:
    """The cluster's id, made once and kept in the cluster's home: every node is formatted
    with the same one."""
    path = layout.home / "kafka-cluster-id"
    if not path.exists():
        layout.home.mkdir(parents=True, exist_ok=True)
        path.write_text(new_kafka_cluster_id())
    return path.read_text().strip()


def broker_pid(layout: ClusterLayout, broker: int) -> int | None:
    """The pid of node `broker` if it runs."""
    return live_pid(pid_file(layout, broker))


def spawn_broker(layout: ClusterLayout, broker: int) -> int:
    """Write the node's config, format its storage on first use, start it; returns its pid
    without waiting for it to serve (a quorum needs the others started too)."""
    home = broker_home(layout, broker)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "server.properties"
    config.write_text(broker_properties(layout, broker))
    if not JARS.is_dir():
        raise SystemExit("kafka jars missing: run `make bootstrap` first")
    if port_open(layout.kafka_port(broker)):
        raise SystemExit(f"port {layout.kafka_port(broker)} is taken by another process")
    if not (home / "data" / "meta.properties").exists():
        subprocess.run(
            kafka_java_cmd(
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id(layout),
                "-c",
                str(config),
                heap=HEAP,
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with log_file(layout, broker).open("ab") as out:
        proc = subprocess.Popen(
            kafka_java_cmd("kafka.Kafka", str(config), heap=HEAP),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(layout, broker).write_text(str(proc.pid))
    return proc.pid


def stop_broker(layout: ClusterLayout, broker: int) -> None:
    """SIGTERM (a controlled shutdown moves its leaderships away), SIGKILL after 60 s;
    SystemExit if it survives."""
    stop_pid(pid_file(layout, broker), f"kafka broker {broker}", timeout_s=60.0)


def quorum_leader(layout: ClusterLayout) -> int | None:
    """The metadata quorum's leader as the running nodes last recorded it (the
    `quorum-state` file each voter rewrites on every election); None when none knows one.
    The newest epoch wins: a node that has not yet heard of an election holds an older one."""
    best: tuple[int, int] | None = None
    for broker in BROKERS:
        if broker_pid(layout, broker) is None:
            continue
        state_file = broker_home(layout, broker) / "data" / "__cluster_metadata-0" / "quorum-state"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        leader, epoch = int(state.get("leaderId", -1)), int(state.get("leaderEpoch", -1))
        if leader >= 0 and (best is None or epoch > best[1]):
            best = (leader, epoch)
    return best[0] if best else None


async def serving_brokers(layout: ClusterLayout, broker: int) -> set[int]:
    """The broker ids node `broker` reports as serving (registered and unfenced); empty when
    it does not answer."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not port_open(layout.kafka_port(broker)):
        return set()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=f"127.0.0.1:{layout.kafka_port(broker)}", request_timeout_ms=5000
    )
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return {int(b["node_id"]) for b in cluster["brokers"]}
    except Exception:
        return set()
    finally:
        await admin.close()


async def all_serving(layout: ClusterLayout, brokers: set[int]) -> bool:
    """Whether each of `brokers` answers metadata and lists all of them as serving, with a
    quorum leader known."""
    views = [await serving_brokers(layout, b) for b in sorted(brokers)]
    return all(brokers <= view for view in views) and quorum_leader(layout) is not None


async def partition_leaders(layout: ClusterLayout, topic: str) -> dict[int, int]:
    """partition -> leader broker id of `topic`, from the cluster's metadata (-1 while a
    partition has no leader)."""
    return {p: leader for p, (leader, _isr) in (await partition_state(layout, topic)).items()}


async def partition_state(layout: ClusterLayout, topic: str) -> dict[int, tuple[int, set[int]]]:
    """partition -> (leader, in-sync replicas) of `topic`; KeyError when it does not exist."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=layout.kafka_bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described["error_code"] != 0 or not described["partitions"]:
        raise KeyError(f"topic {topic}: error {described['error_code']}")
    return {
        int(p["partition"]): (int(p["leader"]), {int(r) for r in p["isr"]})
        for p in described["partitions"]
    }
