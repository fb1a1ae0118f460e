"""Cluster mode's Postgres: two nodes, each run by its own Patroni agent (Debian's package).

Patroni keeps the leader key in etcd, promotes the synchronous standby when the leader's
key expires, and brings a returning old primary back as a replica (pg_rewind, or a fresh
copy when rewinding fails). Nothing here elects or replicates by itself.

Postgres refuses to run as root, so as root the agents run as the `postgres` account and
the nodes live outside the checkout (whose parents that account may not be able to
enter), linked from the cluster's home as `pg/` — the same rule as the local stack's
`pg_home()`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from deploy.cluster.layout import PG_NODES, ClusterLayout
from deploy.cluster.proc import live_pid
from deploy.local.stack import pg_bindir, port_open, stop_pid

PATRONI = Path("/usr/bin/patroni")
SUPERUSER = "postgres"
REPLICATION_USER = "replicator"
# Patroni's loop: the leader key lives `TTL_S`; the agent renews it every `LOOP_WAIT_S`
# and gives up on etcd or Postgres after `RETRY_TIMEOUT_S`. Patroni needs
# loop_wait + 2 * retry_timeout <= ttl. On loopback these put a failover within ~10 s of
# the primary's death instead of the defaults' ~30 s.
TTL_S = 10
LOOP_WAIT_S = 2
RETRY_TIMEOUT_S = 4


def cluster_pg_home(layout: ClusterLayout) -> Path:
    """Where both nodes live (created on first use): `<home>/pg`, or as root a folder in
    /var/tmp owned by `postgres` that `<home>/pg` links to."""
    link = layout.home / "pg"
    if os.geteuid() != 0:
        link.mkdir(parents=True, exist_ok=True)
        return link
    if link.is_symlink():
        return link.resolve()
    digest = hashlib.sha256(str(layout.home).encode()).hexdigest()[:12]
    home = Path("/var/tmp") / f"herald-cluster-pg-{digest}"
    home.mkdir(parents=True, exist_ok=True)
    pw = pwd.getpwnam("postgres")
    os.chown(home, pw.pw_uid, pw.pw_gid)
    layout.home.mkdir(parents=True, exist_ok=True)
    if link.exists():
        shutil.rmtree(link)
    link.symlink_to(home)
    return home


def node_home(layout: ClusterLayout, node: str) -> Path:
    return cluster_pg_home(layout) / node


def patroni_config(layout: ClusterLayout, node: str, home: Path, bindir: Path) -> dict[str, Any]:
    """Patroni's configuration of `node`, whose folder is `home` (data, socket, pgpass)."""
    rest = layout.patroni_rest_port(node)
    port = layout.pg_port(node)
    return {
        "scope": f"herald-{layout.base}",
        "namespace": "/herald/",
        "name": node,
        "restapi": {"listen": f"127.0.0.1:{rest}", "connect_address": f"127.0.0.1:{rest}"},
        # etcd 3.4 serves the v3 JSON gateway that Patroni's `etcd3` client uses.
        "etcd3": {"hosts": [f"127.0.0.1:{layout.etcd_client_port}"]},
        "bootstrap": {
            "dcs": {
                "ttl": TTL_S,
                "loop_wait": LOOP_WAIT_S,
                "retry_timeout": RETRY_TIMEOUT_S,
                # Only the synchronous standby may be promoted, and every commit the
                # primary acknowledges is flushed on it first: an acknowledged commit
                # survives the primary's loss.
                "synchronous_mode": True,
                # Not strict: with two nodes, strict mode would stop every write while the
                # replica is down. Non-strict keeps the primary writable alone; the replica
                # that comes back is not promotable until it has caught up and is the
                # synchronous standby again, so no acknowledged commit is lost by a failover.
                "synchronous_mode_strict": False,
                "maximum_lag_on_failover": 1048576,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {
                        "max_connections": 300,
                        "shared_buffers": "128MB",
                        "work_mem": "16MB",
                        "maintenance_work_mem": "64MB",
                        "max_wal_size": "1GB",
                        "wal_level": "replica",
                        "hot_standby": "on",
                        # pg_rewind needs it (Patroni sets it too).
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_keep_size": "256MB",
                        "max_locks_per_transaction": 256,
                        "synchronous_commit": "on",
                        "log_min_messages": "warning",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, {"auth": "trust"}],
        },
        "postgresql": {
            "listen": f"127.0.0.1:{port}",
            "connect_address": f"127.0.0.1:{port}",
            "data_dir": str(home / "data"),
            "bin_dir": str(bindir),
            "pgpass": str(home / "pgpass"),
            "use_pg_rewind": True,
            # A returning old primary whose history cannot be rewound is copied afresh
            # from the leader rather than left out of the cluster.
            "remove_data_directory_on_rewind_failure": True,
            "remove_data_directory_on_diverged_timelines": True,
            "authentication": {
                "superuser": {"username": SUPERUSER},
                "replication": {"username": REPLICATION_USER},
            },
            # Trust on loopback only, as in the local stack: nothing listens elsewhere.
            "pg_hba": [
                "local all all trust",
                "host all all 127.0.0.1/32 trust",
                "host replication all 127.0.0.1/32 trust",
            ],
            "parameters": {"unix_socket_directories": str(home / "run")},
        },
        "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False},
    }


def config_path(layout: ClusterLayout, node: str) -> Path:
    return node_home(layout, node) / "patroni.yml"


def pid_file(layout: ClusterLayout, node: str) -> Path:
    # The agent's pid file sits in the cluster's home (written by this module, as root).
    return layout.home / f"patroni-{node}.pid"


def patroni_pid(layout: ClusterLayout, node: str) -> int | None:
    return live_pid(pid_file(layout, node))


def postmaster_pid(layout: ClusterLayout, node: str) -> int | None:
    """The node's postmaster if it runs (first line of its `postmaster.pid`)."""
    from deploy.local.stack import process_running

    try:
        text = (node_home(layout, node) / "data" / "postmaster.pid").read_text()
        pid = int(text.splitlines()[0])
    except (OSError, IndexError, ValueError):
        return None
    return pid if process_running(pid) else None


def start_agent(layout: ClusterLayout, node: str) -> int:
    """Write the node's config and start its Patroni agent unless it runs; returns its pid.
    The agent starts (or bootstraps, or clones) Postgres itself."""
    running = patroni_pid(layout, node)
    if running is not None:
        return running
    if not PATRONI.exists():
        raise SystemExit("patroni missing: run `make bootstrap` (Debian package patroni)")
    # The node's own postmaster may have outlived a killed agent; the new agent adopts it.
    ports = [layout.patroni_rest_port(node)]
    if postmaster_pid(layout, node) is None:
        ports.append(layout.pg_port(node))
    for port in ports:
        if port_open(port):
            raise SystemExit(f"port {port} is taken by another process")
    home = node_home(layout, node)
    (home / "run").mkdir(parents=True, exist_ok=True)
    config_path(layout, node).write_text(
        "# Rendered by deploy/cluster/patroni.py; edits are overwritten at start.\n"
        + yaml.safe_dump(patroni_config(layout, node, home, pg_bindir()), sort_keys=False)
    )
    user: int | None = None
    group: int | None = None
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        user, group = pw.pw_uid, pw.pw_gid
        for path in (home, home / "run", config_path(layout, node)):
            os.chown(path, user, group)
    # Debian's patroni runs on the system interpreter with Debian's modules; nothing of
    # this process's virtualenv may leak into it.
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "PGUSER": SUPERUSER,
    }
    with (home / "patroni.log").open("ab") as out:
        proc = subprocess.Popen(
            ["/usr/bin/python3", str(PATRONI), str(config_path(layout, node))],
            cwd=home,
            env=env,
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    layout.home.mkdir(parents=True, exist_ok=True)
    pid_file(layout, node).write_text(str(proc.pid))
    return proc.pid


def stop_agent(layout: ClusterLayout, node: str) -> None:
    """Stop the agent (it shuts its Postgres down first) and check that both are gone."""
    from deploy.local.stack import wait_gone

    postmaster = postmaster_pid(layout, node)
    stop_pid(pid_file(layout, node), f"patroni {node}", timeout_s=60.0)
    if postmaster is not None and not wait_gone(postmaster, 30.0):
        # The agent was killed before it could stop its Postgres: stop that one directly.
        os.kill(postmaster, 15)
        if not wait_gone(postmaster, 30.0):
            raise SystemExit(f"postgres of {node} (pid {postmaster}) still runs")


def rest_get(layout: ClusterLayout, node: str, path: str) -> tuple[int, Any]:
    """GET `path` from the node's Patroni REST API: (status, decoded JSON body); status 0
    when the agent does not answer."""
    url = f"http://127.0.0.1:{layout.patroni_rest_port(node)}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):
        return 0, None


def cluster_members(layout: ClusterLayout) -> dict[str, dict[str, Any]]:
    """node -> its member entry of Patroni's `/cluster` (role, state, lag, ...), asked of
    any agent that answers; empty when none does."""
    for node in PG_NODES:
        status, body = rest_get(layout, node, "/cluster")
        if status == 200 and isinstance(body, dict):
            return {m["name"]: m for m in body.get("members", [])}
    return {}


def psql(layout: ClusterLayout, port: int, sql: str, database: str = "postgres") -> str:
    """Run `sql` as the superuser on 127.0.0.1:`port`; its unaligned output."""
    result = subprocess.run(
        [
            str(pg_bindir() / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result.stdout.strip()
