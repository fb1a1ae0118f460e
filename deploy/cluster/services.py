"""Cluster mode's service processes: two of each service, on the data plane's addresses.

Every process is `python -m services.<name>` in a session of its own (so it outlives the
command that started it, and a kill reaches all of it), with its pid in
`<home>/services/<name>-<n>.pid` and its log in `<home>/logs/<name>-<n>.log`. The pair of
an HTTP service listens on `layout.service_port(name, 1|2)` behind HAProxy's front end;
clients (and the web app) use the front, so either process of a pair may go.

What every process is told (`service_env`): all three brokers, topics with replication
factor 3 and `min.insync.replicas` 2, the database through HAProxy's primary port (the
feed's anonymous reads through its replica port), one content master key and one VAPID
key for the whole cluster, one feed worker and one push process per process (the pair is
the redundancy), and small connection pools: two Postgres nodes of about 300 connections
serve every process twice over (pool sizes below), on a 2-core machine where more
connections would only queue.

The schema is migrated once, through the primary port, and the topics are created once
(replication factor 3, `min.insync.replicas` 2), before any service starts: twelve
processes racing to create them would each meet a topic the other brokers do not know yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from deploy.cluster.layout import HTTP_FRONTS, REPLICAS, ROOT, SERVICES, ClusterLayout
from deploy.service_env import OPS_PORT_VARS, PORT_VARS, kept_content_master_key
from shared.db.migrate import migrate
from shared.push.vapid import load_or_create_private_key
from shared.settings import HeraldSettings
from shared.topics import ensure_topics

# Connections per process (max; one kept open). Twelve processes at these sizes hold at
# most 2 x 22 = 44 on the primary (the feed's read pool on the replica as many again),
# far below the nodes' limit, and enough that a request rarely waits for one.
DB_POOL_MAX = {"publisher": 5, "fanout": 4, "feed": 6, "retention": 2, "push": 3, "web": 2}
# Started together on 2 cores, twelve processes take a while to import and connect.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
# HAProxy checks each server every second and needs two good checks to send it traffic.
FRONT_TIMEOUT_S = 30.0
# Starts of a process that found its port taken (see `wait_ready`).
BIND_RETRIES = 3
MIGRATE_TIMEOUT_S = 90.0


@dataclass(frozen=True, order=True)
class Member:
    """One process of a service pair."""

    service: str
    replica: int

    @property
    def name(self) -> str:
        return f"{self.service}-{self.replica}"


MEMBERS = tuple(Member(s, r) for s in SERVICES for r in REPLICAS)


def member(name: str) -> Member:
    """`publisher-2` → Member("publisher", 2); ValueError for anything else."""
    for process in MEMBERS:
        if process.name == name:
            return process
    raise ValueError(f"no cluster process named {name!r}")


def front_url(layout: ClusterLayout, service: str) -> str:
    """Where clients reach an HTTP service pair: HAProxy's front end."""
    return f"http://127.0.0.1:{layout.http_front_port(service)}"


def shared_env(layout: ClusterLayout, master_key: str, vapid_key_file: Path) -> dict[str, str]:
    """What every process of the cluster is told, whatever its role."""
    web_origin = front_url(layout, "web")
    return {
        "HERALD_KAFKA_BOOTSTRAP": layout.kafka_bootstrap,
        "HERALD_KAFKA_REPLICATION_FACTOR": "3",
        "HERALD_KAFKA_MIN_INSYNC_REPLICAS": "2",
        "HERALD_DATABASE_URL": layout.database_url,
        "HERALD_DB_POOL_MIN": "1",
        "HERALD_CONTENT_MASTER_KEY": master_key,
        "HERALD_PUSH_VAPID_PRIVATE_KEY_FILE": str(vapid_key_file),
        "HERALD_MEDIA_DIR": str(layout.home / "media"),
        "HERALD_FEED_WORKERS": "1",
        "HERALD_PUSH_PROCESSES": "1",
        # Web: the API pairs through their fronts, and its own front is the origin the
        # APIs' CORS list names (its pages open the feed's stream directly).
        "HERALD_WEB_PUBLISHER_URL": front_url(layout, "publisher"),
        "HERALD_WEB_FEED_URL": front_url(layout, "feed"),
        "HERALD_WEB_PUBLIC_URL": web_origin,
        "HERALD_CORS_ORIGINS": web_origin,
    }


def service_env(
    layout: ClusterLayout,
    process: Member,
    shared: Mapping[str, str],
    inherited: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one process: `inherited` (the caller's, tunables such as
    HERALD_LOG_LEVEL pass through), then the cluster's addresses and keys, which always
    win, then `extra` (a test's settings)."""
    env = {"HERALD_LOG_JSON": "false", **inherited, **shared}
    env[PORT_VARS[process.service]] = str(layout.service_port(process.service, process.replica))
    if process.service in OPS_PORT_VARS:
        port = layout.service_ops_port(process.service, process.replica)
        env[OPS_PORT_VARS[process.service]] = str(port)
    if process.service == "feed":
        # Anonymous reads only (directory, cards, history without a caller): the feed
        # decides which reads may be a little behind.
        env["HERALD_DATABASE_READ_URL"] = layout.database_read_url
    env["HERALD_DB_POOL_MAX"] = str(DB_POOL_MAX[process.service])
    env.update(extra or {})
    return env


def master_key(layout: ClusterLayout) -> str:
    """The cluster's content master key, kept under its home."""
    return kept_content_master_key(layout.home / "content-master-key", "cluster-1")


async def migrate_primary(database_url: str, timeout_s: float = MIGRATE_TIMEOUT_S) -> list[str]:
    """Apply the migrations through HAProxy's primary port, waiting (bounded) for a
    leader to answer there; returns the versions applied."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = await asyncpg.connect(
                database_url, timeout=5, server_settings={"timezone": "UTC"}
            )
            break
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no primary at {database_url}: {exc}") from exc
            await asyncio.sleep(1.0)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def create_topics(env: Mapping[str, str]) -> list[str]:
    """Create Herald's topics as the processes of `env` would (its namespace, brokers,
    replication factor and min.insync.replicas); returns the names created."""
    settings = HeraldSettings(
        namespace=env.get("HERALD_NAMESPACE", ""),
        kafka_bootstrap=env["HERALD_KAFKA_BOOTSTRAP"],
        kafka_replication_factor=int(env["HERALD_KAFKA_REPLICATION_FACTOR"]),
        kafka_min_insync_replicas=int(env["HERALD_KAFKA_MIN_INSYNC_REPLICAS"]),
    )
    return await ensure_topics(settings)


def _running(pid: int) -> bool:
    """A live process (a zombie, finished but not reaped, is not)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, OSError, IndexError):
        return False
    return state not in ("Z", "X")


@dataclass(frozen=True)
class ProcessState:
    process: Member
    pid: int | None
    ready: bool


class ClusterServices:
    """Starts, kills and stops the twelve processes of one cluster (see the module doc).

    The pid files are the record: `make cluster-stop` (another process) stops what
    `make cluster` started. Processes this object spawned are also reaped by it.
    """

    def __init__(self, layout: ClusterLayout, extra_env: Mapping[str, str] | None = None) -> None:
        self.layout = layout
        self.extra_env = dict(extra_env or {})
        self.pid_dir = layout.home / "services"
        self.log_dir = layout.home / "logs"
        self._children: dict[Member, subprocess.Popen[bytes]] = {}

    # --- one process ---------------------------------------------------------------
    def pid_file(self, process: Member) -> Path:
        return self.pid_dir / f"{process.name}.pid"

    def log_file(self, process: Member) -> Path:
        return self.log_dir / f"{process.name}.log"

    def url(self, process: Member) -> str:
        return f"http://127.0.0.1:{self.layout.service_port(process.service, process.replica)}"

    def pid(self, process: Member) -> int | None:
        """The live pid of `process`, None when it does not run."""
        self._reap()
        try:
            pid = int(self.pid_file(process).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _running(pid) else None

    def spawn(self, process: Member) -> int:
        """Start `process` (not waiting for it to be ready); RuntimeError if it runs."""
        if (running := self.pid(process)) is not None:
            raise RuntimeError(f"{process.name} already runs (pid {running})")
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.env(process)
        with self.log_file(process).open("ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", f"services.{process.service}"],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: it outlives `make cluster`, ignores the terminal's
                # Ctrl-C, and a kill of its group leaves nothing behind.
                start_new_session=True,
            )
        self._children[process] = child
        self.pid_file(process).write_text(f"{child.pid}\n")
        return child.pid

    def signal(self, process: Member, sig: signal.Signals) -> int:
        """Send `sig` to the process; its pid. RuntimeError when it does not run."""
        pid = self.pid(process)
        if pid is None:
            raise RuntimeError(f"{process.name} does not run")
        os.kill(pid, sig)
        return pid

    def kill(self, process: Member) -> int:
        """SIGKILL to the whole process group, no chance to flush or commit; returns the
        pid once it is gone."""
        pid = self.pid(process)
        if pid is None:
            raise RuntimeError(f"{process.name} does not run")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        if not self._wait_gone(pid, 10.0):
            raise RuntimeError(f"{process.name} (pid {pid}) survived SIGKILL")
        return pid

    def ready(self, process: Member, timeout_s: float = 2.0) -> bool:
        try:
            response = httpx.get(f"{self.url(process)}/readyz", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def wait_ready(self, processes: tuple[Member, ...], timeout_s: float = START_TIMEOUT_S) -> None:
        """Until every one answers /readyz 200; RuntimeError naming those that exited or
        never became ready (with their log's last lines)."""
        waiting = set(processes)
        respawns = dict.fromkeys(processes, BIND_RETRIES)
        deadline = time.monotonic() + timeout_s
        while waiting:
            for process in sorted(waiting):
                if self.pid(process) is None:
                    tail = self.log_tail(process, lines=5)
                    if "address already in use" in tail and respawns[process] > 0:
                        # Cluster ports lie in the kernel's ephemeral range: an outgoing
                        # connection may hold one for a moment. Try again.
                        respawns[process] -= 1
                        self.spawn(process)
                        continue
                    raise RuntimeError(f"{process.name} exited:\n{self.log_tail(process)}")
                if self.ready(process):
                    waiting.discard(process)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(p.name for p in sorted(waiting))
                tails = "\n".join(self.log_tail(p) for p in sorted(waiting))
                raise RuntimeError(f"not ready in {timeout_s:.0f}s: {names}\n{tails}")
            if waiting:
                time.sleep(0.5)

    def log_tail(self, process: Member, lines: int = 15) -> str:
        path = self.log_file(process)
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(f"  {process.name}| {line}" for line in text.splitlines()[-lines:])

    # --- the whole set ---------------------------------------------------------------
    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Migrate through the primary port and create the topics, then start every
        process that does not run yet and wait until all are ready."""
        asyncio.run(migrate_primary(self.layout.database_url))
        asyncio.run(create_topics(self.env(MEMBERS[0])))
        missing = tuple(p for p in MEMBERS if self.pid(p) is None)
        for process in missing:
            self.spawn(process)
        self.wait_ready(missing, timeout_s)
        self.wait_fronts(FRONT_TIMEOUT_S)

    def wait_fronts(self, timeout_s: float) -> None:
        """Until HAProxy's front of each HTTP pair answers /readyz 200: its health checks
        need a few seconds to see a process that just became ready."""
        deadline = time.monotonic() + timeout_s
        for service in HTTP_FRONTS:
            url = f"{front_url(self.layout, service)}/readyz"
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"HAProxy's {service} front does not answer: {url}")
                time.sleep(0.25)

    def status(self) -> list[ProcessState]:
        states = []
        for process in MEMBERS:
            pid = self.pid(process)
            states.append(ProcessState(process, pid, pid is not None and self.ready(process)))
        return states

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
        """SIGTERM every process (a paused one is continued first, or it could not obey),
        SIGKILL what is left after `timeout_s`; returns the names that still run after
        that (none, unless a process could not be killed)."""
        running = {p: pid for p in MEMBERS if (pid := self.pid(p)) is not None}
        for pid in running.values():
            for sig in (signal.SIGCONT, signal.SIGTERM):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)
        deadline = time.monotonic() + timeout_s
        for pid in running.values():
            self._wait_gone(pid, max(0.0, deadline - time.monotonic()))
        for pid in running.values():
            # Whatever ignored SIGTERM, and any child left in the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        left = [p.name for p, pid in running.items() if not self._wait_gone(pid, 10.0)]
        for process in MEMBERS:
            if process.name not in left:
                self.pid_file(process).unlink(missing_ok=True)
        return left

    def env(self, process: Member) -> dict[str, str]:
        return service_env(self.layout, process, self._shared_env(), os.environ, self.extra_env)

    # --- internals -------------------------------------------------------------------
    def _shared_env(self) -> dict[str, str]:
        vapid = self.layout.home / "push" / "vapid-private-key.pem"
        # Made here, before any process starts: feed and push processes must all hold
        # the same key (browsers bind subscriptions to its public half).
        load_or_create_private_key(vapid, create=True)
        return shared_env(self.layout, master_key(self.layout), vapid)

    def _reap(self) -> None:
        for process, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[process]

    def _wait_gone(self, pid: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while True:
            self._reap()
            if not _running(pid):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
