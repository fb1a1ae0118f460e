"""Where cluster mode puts everything: its ports and its folders.

Every port is `base + offset`, the base from `HERALD_CLUSTER_PORT_BASE` (default 21000),
so a test run can hold a whole cluster of its own beside a developer's `make cluster`.
The defaults (21000 here, 22000 for `make chaos-cluster`, 23000 for the test suite) sit
below Linux's ephemeral range (32768-60999): a port in it can be taken for a moment as an
outgoing connection's source port, and a server starting then fails to bind.
State lives under `.local/cluster-<base>/`; a second cluster on another base gets its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT_BASE = 21000
BROKERS = (1, 2, 3)
PG_NODES = ("pg1", "pg2")
# HTTP services that run as a pair behind HAProxy: name -> front-end offset.
HTTP_FRONTS = {"web": 80, "publisher": 81, "feed": 82}
# Services with two processes each; the ones not in HTTP_FRONTS expose only ops ports.
SERVICES = ("publisher", "fanout", "feed", "retention", "push", "web")
REPLICAS = (1, 2)


@dataclass(frozen=True)
class ClusterLayout:
    """Ports and folders of one cluster; `base` picks a block of about 200 ports."""

    base: int = DEFAULT_PORT_BASE

    @classmethod
    def from_env(cls) -> ClusterLayout:
        return cls(int(os.environ.get("HERALD_CLUSTER_PORT_BASE", str(DEFAULT_PORT_BASE))))

    # --- Kafka -----------------------------------------------------------------------
    def kafka_port(self, broker: int) -> int:
        """Client listener of broker 1..3."""
        return self.base + broker - 1

    def kafka_controller_port(self, broker: int) -> int:
        return self.base + 10 + broker - 1

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port(b)}" for b in BROKERS)

    # --- etcd, Patroni, Postgres -----------------------------------------------------
    @property
    def etcd_client_port(self) -> int:
        return self.base + 20

    @property
    def etcd_peer_port(self) -> int:
        return self.base + 21

    def pg_port(self, node: str) -> int:
        """The Postgres server of node pg1/pg2 itself (clients use HAProxy's ports)."""
        return self.base + 30 + PG_NODES.index(node)

    def patroni_rest_port(self, node: str) -> int:
        return self.base + 40 + PG_NODES.index(node)

    # --- HAProxy ---------------------------------------------------------------------
    @property
    def pg_primary_port(self) -> int:
        """HAProxy: always the current Patroni leader (read-write)."""
        return self.base + 50

    @property
    def pg_replica_port(self) -> int:
        """HAProxy: a streaming replica (read-only), the leader when none is healthy."""
        return self.base + 51

    @property
    def haproxy_stats_port(self) -> int:
        return self.base + 52

    def http_front_port(self, service: str) -> int:
        """HAProxy's front end for an HTTP service pair (web, publisher, feed)."""
        return self.base + HTTP_FRONTS[service]

    def service_port(self, service: str, replica: int) -> int:
        """A service process's own port: the HTTP port for publisher/feed/web, the ops
        port (/healthz, /readyz, /metrics) for the others."""
        return self.base + 100 + 10 * SERVICES.index(service) + replica - 1

    def service_ops_port(self, service: str, replica: int) -> int:
        """Separate ops port (metrics, health) of an HTTP service process, when it has one."""
        return self.base + 100 + 10 * SERVICES.index(service) + 5 + replica - 1

    # --- URLs and folders ------------------------------------------------------------
    @property
    def database_url(self) -> str:
        return f"postgresql://herald@127.0.0.1:{self.pg_primary_port}/herald"

    @property
    def database_read_url(self) -> str:
        return f"postgresql://herald@127.0.0.1:{self.pg_replica_port}/herald"

    @property
    def home(self) -> Path:
        return ROOT / ".local" / f"cluster-{self.base}"
