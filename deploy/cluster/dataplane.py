"""The cluster's data plane: three KRaft brokers, etcd, two Postgres nodes under Patroni
and HAProxy in front of them — started, stopped, inspected and broken on purpose.

Usage: python -m deploy.cluster.dataplane {start,stop,status}   (HERALD_CLUSTER_PORT_BASE)

`start` is idempotent and returns only when the whole plane serves: every broker is
registered and the quorum has a leader, etcd is healthy, Patroni has a leader with the
other node as its synchronous standby, HAProxy routes the primary and the replica port to
them, and role and database `herald` exist. `stop` ends what the pid files under the
cluster's home name, and checks that it is gone. The fault methods are the chaos run's.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from deploy.cluster import etcd, haproxy, kafka, patroni
from deploy.cluster.layout import BROKERS, PG_NODES, ClusterLayout
from deploy.cluster.proc import wait_exited
from deploy.local.stack import log

START_TIMEOUT_S = 180.0
# How often a part that exits right after its start is started again (see `_revive`).
RESTARTS = 3
# A restarted node replays its WAL or rewinds, then catches up before it streams again.
REJOIN_TIMEOUT_S = 120.0
DATABASE = "herald"
ROLE = "herald"
# The migrations create these; the `herald` role may not (it is no superuser), so they are
# created in `template1` and `herald` beforehand and the migration's
# `CREATE EXTENSION IF NOT EXISTS` finds them there.
EXTENSIONS = ("hll",)
T = TypeVar("T")


@dataclass(frozen=True)
class PgNodeStatus:
    role: str  # leader / sync_standby / replica / stopped
    state: str  # Patroni's word for its Postgres (running, starting, ...), "" when stopped
    postmaster_pid: int | None
    patroni_pid: int | None


@dataclass(frozen=True)
class ClusterStatus:
    kafka_controller_leader: int | None
    brokers: dict[int, int | None]
    pg: dict[str, PgNodeStatus]
    etcd_pid: int | None
    haproxy_pid: int | None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pg_leader(self) -> str | None:
        return next((n for n, s in self.pg.items() if s.role == "leader"), None)

    def format(self) -> str:
        """Who leads what, one line per component (`make cluster-status`)."""

        def pid(value: int | None) -> str:
            return f"pid {value}" if value is not None else "stopped"

        leader = self.kafka_controller_leader
        lines = [f"kafka quorum leader: {f'broker {leader}' if leader else 'none'}"]
        for broker, broker_pid in self.brokers.items():
            port = self.ports.get(f"kafka-{broker}")
            lines.append(f"kafka broker {broker} (:{port}): {pid(broker_pid)}")
        lines.append(f"postgres leader: {self.pg_leader or 'none'}")
        for node, s in self.pg.items():
            lines.append(
                f"postgres {node} (:{self.ports.get(node)}): {s.role}"
                + (f" ({s.state})" if s.state else "")
                + f", postgres {pid(s.postmaster_pid)}, patroni {pid(s.patroni_pid)}"
            )
        lines.append(f"etcd (:{self.ports.get('etcd')}): {pid(self.etcd_pid)}")
        lines.append(
            f"haproxy (primary :{self.ports.get('pg_primary')}, replica "
            f":{self.ports.get('pg_replica')}): {pid(self.haproxy_pid)}"
        )
        return "\n".join(lines)


class DataPlane:
    """The brokers, etcd, Patroni nodes and HAProxy of the cluster on `layout`.

    Every method but the `async` ones blocks (some run an event loop of their own): call
    them from a thread (`asyncio.to_thread`) inside async code."""

    def __init__(self, layout: ClusterLayout) -> None:
        self.layout = layout

    # ------------------------------------------------------------ whole plane

    def start(self) -> None:
        """Start whatever is not running; return when the whole plane serves (module doc).
        SystemExit when a part does not come up within its bound."""
        started = time.monotonic()
        self.layout.home.mkdir(parents=True, exist_ok=True)
        restarts: Counter[str] = Counter()
        parts = ["etcd", *(f"broker-{b}" for b in BROKERS), *PG_NODES, "haproxy"]
        self._until("kafka brokers", self._kafka_ready, parts, restarts, START_TIMEOUT_S)
        leader, standby = self._until(
            "a Patroni leader with a synchronous standby",
            self._pg_pair,
            parts,
            restarts,
            START_TIMEOUT_S,
        )
        self._until("haproxy routing", lambda: self._routed(leader, standby), parts, restarts, 30.0)
        self._ensure_database()
        log(
            f"cluster data plane ready on base {self.layout.base} in "
            f"{time.monotonic() - started:.1f}s"
        )

    def stop(self) -> None:
        """Stop everything this plane's pid files name; SystemExit naming what survived."""
        failures: list[str] = []

        def attempt(name: str, stop: object) -> None:
            try:
                stop()  # type: ignore[operator]
            except SystemExit as exc:
                failures.append(f"{name}: {exc}")

        attempt("haproxy", lambda: haproxy.stop_haproxy(self.layout))
        # The standby first: stopping the leader first would promote the standby.
        leader = self._pg_leader_or_none()
        for node in sorted(PG_NODES, key=lambda n: n == leader):
            attempt(f"patroni {node}", lambda n=node: patroni.stop_agent(self.layout, n))
        # All brokers at once: stopped one by one, the last would wait for a quorum that
        # has already gone.
        with ThreadPoolExecutor(len(BROKERS)) as pool:
            for broker in BROKERS:
                stop = lambda b=broker: kafka.stop_broker(self.layout, b)  # noqa: E731
                pool.submit(attempt, f"broker {broker}", stop)
        attempt("etcd", lambda: etcd.stop_etcd(self.layout))
        survivors = self._running_pids()
        if failures or survivors:
            raise SystemExit(f"cluster stop incomplete: {failures} still running: {survivors}")

    def status(self) -> ClusterStatus:
        members = patroni.cluster_members(self.layout)
        pg = {}
        for node in PG_NODES:
            agent = patroni.patroni_pid(self.layout, node)
            member = members.get(node, {}) if agent is not None else {}
            pg[node] = PgNodeStatus(
                role=str(member.get("role", "stopped")),
                state=str(member.get("state", "")),
                postmaster_pid=patroni.postmaster_pid(self.layout, node),
                patroni_pid=agent,
            )
        layout = self.layout
        ports = {f"kafka-{b}": layout.kafka_port(b) for b in BROKERS}
        ports.update({n: layout.pg_port(n) for n in PG_NODES})
        ports.update(
            etcd=layout.etcd_client_port,
            pg_primary=layout.pg_primary_port,
            pg_replica=layout.pg_replica_port,
        )
        return ClusterStatus(
            kafka_controller_leader=kafka.quorum_leader(layout),
            brokers={b: kafka.broker_pid(layout, b) for b in BROKERS},
            pg=pg,
            etcd_pid=etcd.etcd_pid(layout),
            haproxy_pid=haproxy.haproxy_pid(layout),
            ports=ports,
        )

    # ------------------------------------------------------------ Kafka faults

    def broker_pid(self, broker: int) -> int | None:
        return kafka.broker_pid(self.layout, broker)

    def kill_broker(self, broker: int) -> int:
        """SIGKILL broker `broker`; returns the pid it had, once that process is gone."""
        pid = self.broker_pid(broker)
        if pid is None:
            raise RuntimeError(f"broker {broker} is not running")
        os.kill(pid, signal.SIGKILL)
        self._wait_dead(pid, f"broker {broker}")
        return pid

    def start_broker(self, broker: int) -> None:
        """Start broker `broker` again; returns once every running broker lists it."""
        running = {b for b in BROKERS if self.broker_pid(b) is not None} | {broker}

        def serving() -> bool | None:
            return asyncio.run(kafka.all_serving(self.layout, running)) or None

        self._until(f"broker {broker}", serving, [f"broker-{broker}"], Counter(), START_TIMEOUT_S)

    async def partition_leaders(self, topic: str) -> dict[int, int]:
        """partition -> leader broker id of `topic` (-1 while leaderless)."""
        return await kafka.partition_leaders(self.layout, topic)

    async def in_sync_replicas(self, topic: str) -> dict[int, set[int]]:
        """partition -> the broker ids in its ISR."""
        state = await kafka.partition_state(self.layout, topic)
        return {p: isr for p, (_leader, isr) in state.items()}

    # ------------------------------------------------------------ Postgres faults

    def pg_leader(self) -> str:
        """The node Patroni's `/cluster` names leader; RuntimeError when there is none."""
        leader = self._pg_leader_or_none()
        if leader is None:
            raise RuntimeError("no Patroni leader")
        return leader

    def kill_pg_primary(self) -> tuple[str, int, int]:
        """kill -9 the leader's Patroni agent and its postmaster (the agent first, so it
        cannot restart Postgres in between); returns (node, postmaster pid, patroni pid)
        once both processes are gone."""
        node = self.pg_leader()
        agent = patroni.patroni_pid(self.layout, node)
        postmaster = patroni.postmaster_pid(self.layout, node)
        if agent is None or postmaster is None:
            raise RuntimeError(f"leader {node} has no running agent/postmaster")
        os.kill(agent, signal.SIGKILL)
        os.kill(postmaster, signal.SIGKILL)
        self._wait_dead(agent, f"patroni {node}")
        self._wait_dead(postmaster, f"postgres {node}")
        return node, postmaster, agent

    def start_pg_node(self, node: str) -> None:
        """Start `node`'s agent again; returns once it streams from the leader as its
        synchronous standby (rewound, or copied afresh when its history diverged)."""
        # Synchronous again, not just streaming: only then may the next failover pick it.
        self._until(
            f"{node} streaming as the synchronous standby",
            lambda: self._streams(node, sync=True),
            [node],
            Counter(),
            REJOIN_TIMEOUT_S,
        )

    def wait_pg_leader(self, timeout_s: float, not_node: str | None = None) -> str:
        """Wait until a node other than `not_node` leads and its Postgres runs read-write;
        its name. SystemExit after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            members = patroni.cluster_members(self.layout)
            for node, member in members.items():
                if member.get("role") != "leader" or member.get("state") != "running":
                    continue
                if node == not_node:
                    continue
                status, _ = patroni.rest_get(self.layout, node, "/primary")
                if status == 200:
                    return node
            time.sleep(0.5)
        raise SystemExit(f"no Patroni leader (other than {not_node}) within {timeout_s:.0f}s")

    # ------------------------------------------------------------ helpers

    def _pg_leader_or_none(self) -> str | None:
        members = patroni.cluster_members(self.layout)
        return next((n for n, m in members.items() if m.get("role") == "leader"), None)

    def _until(
        self,
        what: str,
        probe: Callable[[], T | None],
        parts: list[str],
        restarts: Counter[str],
        timeout_s: float,
    ) -> T:
        """Poll `probe` until it gives a value, starting again any of `parts` that is not
        running on the way; SystemExit naming `what` after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._revive(parts, restarts)
            value = probe()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{what}: not ready within {timeout_s:.0f}s; see {self.layout.home}"
                )
            time.sleep(0.5)

    def _revive(self, parts: list[str], restarts: Counter[str]) -> None:
        """Start each of `parts` that does not run, each at most `RESTARTS` times.

        The cluster's ports lie in Linux's ephemeral port range: for a moment one may be
        the source port of some outgoing connection, and a server starting then cannot
        bind it and exits. Starting it again a little later succeeds."""
        for part in parts:
            if self._part_pid(part) is not None:
                continue
            restarts[part] += 1
            if restarts[part] > 1 + RESTARTS:
                raise SystemExit(f"{part} exits right after each start; see {self.layout.home}")
            try:
                self._start_part(part)
            except SystemExit as exc:
                log(f"{part} did not start ({exc}); trying again")

    def _part_pid(self, part: str) -> int | None:
        if part == "etcd":
            return etcd.etcd_pid(self.layout)
        if part == "haproxy":
            return haproxy.haproxy_pid(self.layout)
        if part.startswith("broker-"):
            return kafka.broker_pid(self.layout, int(part.removeprefix("broker-")))
        return patroni.patroni_pid(self.layout, part)

    def _start_part(self, part: str) -> None:
        if part == "etcd":
            etcd.start_etcd(self.layout)
        elif part == "haproxy":
            haproxy.start_haproxy(self.layout)
        elif part.startswith("broker-"):
            kafka.spawn_broker(self.layout, int(part.removeprefix("broker-")))
        else:
            patroni.start_agent(self.layout, part)

    def _kafka_ready(self) -> bool | None:
        return asyncio.run(kafka.all_serving(self.layout, set(BROKERS))) or None

    def _pg_pair(self) -> tuple[str, str] | None:
        """(leader, standby) once the leader runs read-write and the other node streams
        from it synchronously."""
        leader = self._pg_leader_or_none()
        if leader is None or patroni.rest_get(self.layout, leader, "/primary")[0] != 200:
            return None
        (standby,) = [n for n in PG_NODES if n != leader]
        return (leader, standby) if self._streams(standby, sync=True) else None

    def _streams(self, node: str, sync: bool) -> bool | None:
        """Whether the leader's Postgres shows `node` streaming (synchronously, when
        `sync`) and Patroni lists it running as a replica (the synchronous standby)."""
        leader = self._pg_leader_or_none()
        if leader is None or leader == node:
            return None
        query = (
            "SELECT sync_state FROM pg_stat_replication "
            f"WHERE application_name = '{node}' AND state = 'streaming'"
        )
        try:
            sync_state = patroni.psql(self.layout, self.layout.pg_port(leader), query)
        except Exception:  # the leader may be restarting; ask again
            return None
        member = patroni.cluster_members(self.layout).get(node, {})
        roles = ("sync_standby",) if sync else ("replica", "sync_standby")
        streaming = (
            bool(sync_state)
            and (sync_state == "sync" or not sync)
            and patroni.rest_get(self.layout, node, "/replica")[0] == 200
            and member.get("state") == "running"
            and member.get("role") in roles
        )
        return streaming or None

    def _routed(self, leader: str, replica: str) -> bool | None:
        """Whether HAProxy's primary port reaches `leader` and its replica port `replica`."""
        want = {
            self.layout.pg_primary_port: str(self.layout.pg_port(leader)),
            self.layout.pg_replica_port: str(self.layout.pg_port(replica)),
        }
        for port, server in want.items():
            try:
                if patroni.psql(self.layout, port, "SELECT inet_server_port()") != server:
                    return None
            except Exception:
                return None
        return True

    def _ensure_database(self) -> None:
        """Role and database `herald` with the extensions the migrations need (idempotent)."""
        port = self.layout.pg_primary_port
        run = patroni.psql
        if run(self.layout, port, f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'") != "1":
            run(self.layout, port, f"CREATE ROLE {ROLE} LOGIN CREATEDB")
        for extension in EXTENSIONS:
            run(self.layout, port, f"CREATE EXTENSION IF NOT EXISTS {extension}", "template1")
        exists = run(self.layout, port, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")
        if exists != "1":
            run(self.layout, port, f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        for extension in EXTENSIONS:
            run(self.layout, port, f"CREATE EXTENSION IF NOT EXISTS {extension}", DATABASE)

    def _running_pids(self) -> dict[str, int]:
        s = self.status()
        pids: dict[str, int | None] = {f"broker {b}": p for b, p in s.brokers.items()}
        for node, node_status in s.pg.items():
            pids[f"patroni {node}"] = node_status.patroni_pid
            pids[f"postgres {node}"] = node_status.postmaster_pid
        pids["etcd"] = s.etcd_pid
        pids["haproxy"] = s.haproxy_pid
        return {name: pid for name, pid in pids.items() if pid is not None}

    @staticmethod
    def _wait_dead(pid: int, name: str) -> None:
        if not wait_exited(pid, 30.0):
            raise RuntimeError(f"{name} (pid {pid}) still runs after SIGKILL")


def main(argv: list[str]) -> int:
    plane = DataPlane(ClusterLayout.from_env())
    command = argv[1] if len(argv) > 1 else "status"
    if command == "start":
        plane.start()
    elif command == "stop":
        plane.stop()
    elif command == "status":
        print(plane.status().format())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
