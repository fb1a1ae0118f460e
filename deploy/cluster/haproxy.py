"""Cluster mode's HAProxy: the one address clients use for each thing that moves.

- `pg_primary` (backend `pg_leader`): the node whose Patroni answers `GET /primary` with
  200, i.e. the leader. When a primary is demoted or dies its sessions are cut
  (`on-marked-down shutdown-sessions`), so no client keeps writing to a node that is not
  the leader.
- `pg_replica` (backend `pg_replicas`): a node whose Patroni answers `GET /replica` (a
  running replica); the leader stands in when no replica is healthy.
- one front end per HTTP service pair (`layout.HTTP_FRONTS`), balancing over both
  processes' `/readyz`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from deploy.cluster.layout import HTTP_FRONTS, PG_NODES, REPLICAS, ClusterLayout
from deploy.local.stack import pid_alive, port_open, stop_pid

START_TIMEOUT_S = 15.0
# Server-sent event streams stay open for as long as a client reads them; the feed's front
# end lets an idle stream live this long (the feed sends keep-alive comments far more often).
STREAM_TIMEOUT = "1h"
# A pooled database connection may idle this long (longer than asyncpg's 300 s default
# for dropping an inactive one) before HAProxy closes it.
POOL_IDLE_TIMEOUT = "1h"


def haproxy_binary() -> str:
    # Debian puts it in /usr/sbin, which an unprivileged caller's PATH may lack.
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if binary is None:
        raise SystemExit("haproxy missing: run `make bootstrap` (Debian package haproxy)")
    return binary


def pg_backend(layout: ClusterLayout, name: str, check_path: str) -> list[str]:
    """A backend of both Postgres nodes, healthy while Patroni answers `check_path` with
    200 (`/primary` on the leader, `/replica` on a running replica)."""
    lines = [
        f"backend {name}",
        "    mode tcp",
        f"    timeout server {POOL_IDLE_TIMEOUT}",
        "    option tcpka",
        # HAProxy ends each check with a TCP reset, which Patroni 3.0 logs as a
        # ConnectionResetError traceback: noise, not a fault (patroni/patroni#2278).
        "    option httpchk",
        f"    http-check send meth GET uri {check_path}",
        "    http-check expect status 200",
        # Checked every second, out after two failures: a failover shows in HAProxy within
        # about two seconds of Patroni's promotion. A node marked down has its sessions
        # cut, so no client keeps a connection to a demoted primary.
        "    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
    ]
    for node in PG_NODES:
        lines.append(
            f"    server {node} 127.0.0.1:{layout.pg_port(node)} "
            f"check port {layout.patroni_rest_port(node)}"
        )
    return lines


def pg_fronts(layout: ClusterLayout) -> list[str]:
    return [
        "frontend pg_primary",
        f"    bind 127.0.0.1:{layout.pg_primary_port}",
        "    mode tcp",
        # Pooled connections sit idle between queries; HAProxy must not cut them.
        f"    timeout client {POOL_IDLE_TIMEOUT}",
        "    default_backend pg_leader",
        "",
        "frontend pg_replica",
        f"    bind 127.0.0.1:{layout.pg_replica_port}",
        "    mode tcp",
        f"    timeout client {POOL_IDLE_TIMEOUT}",
        # Reads go to the leader while no replica is healthy (the primary as backup), never
        # nowhere. A `backup` server cannot carry its own health check path, hence two
        # backends and this choice between them.
        "    use_backend pg_replicas if { nbsrv(pg_replicas) gt 0 }",
        "    default_backend pg_leader",
        "",
        *pg_backend(layout, "pg_leader", "/primary"),
        "",
        *pg_backend(layout, "pg_replicas", "/replica"),
    ]


def http_listen(layout: ClusterLayout, service: str) -> list[str]:
    lines = [
        f"listen {service}",
        f"    bind 127.0.0.1:{layout.http_front_port(service)}",
        "    mode http",
        "    balance roundrobin",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200",
        # A request whose connection to a dead process fails is sent to the other one.
        # Only connection failures are retried (HAProxy's default `retry-on`): the request
        # never reached a server then, so a publish is never sent twice.
        "    retries 2",
        "    option redispatch",
        "    option forwardfor",
        "    default-server inter 1s fall 2 rise 2",
    ]
    if service == "feed":
        # SSE: the response never ends, so the server side may stay quiet for long.
        lines += [
            f"    timeout client {STREAM_TIMEOUT}",
            f"    timeout server {STREAM_TIMEOUT}",
            f"    timeout tunnel {STREAM_TIMEOUT}",
        ]
    for replica in REPLICAS:
        lines.append(
            f"    server {service}{replica} 127.0.0.1:{layout.service_port(service, replica)} check"
        )
    return lines


def haproxy_config(layout: ClusterLayout) -> str:
    """haproxy.cfg of the cluster on `layout` (HAProxy 2.6 syntax)."""
    lines = [
        "# Rendered by deploy/cluster/haproxy.py; edits are overwritten at start.",
        "global",
        "    maxconn 4096",
        "",
        "defaults",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout check 2s",
        "    timeout http-request 30s",
        "",
        *pg_fronts(layout),
        "",
    ]
    for service in HTTP_FRONTS:
        lines += [*http_listen(layout, service), ""]
    lines += [
        "listen stats",
        f"    bind 127.0.0.1:{layout.haproxy_stats_port}",
        "    mode http",
        "    stats enable",
        "    stats uri /",
        "    stats refresh 5s",
        "",
    ]
    return "\n".join(lines)


def config_path(layout: ClusterLayout) -> Path:
    return layout.home / "haproxy" / "haproxy.cfg"


def pid_file(layout: ClusterLayout) -> Path:
    return layout.home / "haproxy" / "haproxy.pid"


def haproxy_pid(layout: ClusterLayout) -> int | None:
    return pid_alive(pid_file(layout))


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    """`haproxy -c` on `path`: exit 0 when HAProxy accepts the configuration."""
    return subprocess.run(
        [haproxy_binary(), "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )


def start_haproxy(layout: ClusterLayout) -> None:
    """Write the config and start HAProxy (in the foreground, so its pid is the one we
    hold) unless it runs; returns once the stats port answers."""
    if haproxy_pid(layout) is not None:
        return
    for port in (layout.pg_primary_port, layout.pg_replica_port, layout.haproxy_stats_port):
        if port_open(port):
            raise SystemExit(f"port {port} is taken by another process")
    path = config_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(haproxy_config(layout))
    checked = check_config(path)
    if checked.returncode != 0:
        raise SystemExit(f"haproxy refuses {path}: {checked.stderr.strip()}")
    with (path.parent / "haproxy.log").open("ab") as out:
        proc = subprocess.Popen(
            [haproxy_binary(), "-db", "-f", str(path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_file(layout).write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_open(layout.haproxy_stats_port):
        if time.monotonic() > deadline or haproxy_pid(layout) is None:
            stop_haproxy(layout)
            raise SystemExit(f"haproxy did not start; see {path.parent}/haproxy.log")
        time.sleep(0.1)


def stop_haproxy(layout: ClusterLayout) -> None:
    stop_pid(pid_file(layout), "haproxy")
