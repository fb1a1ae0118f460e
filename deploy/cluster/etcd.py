"""Cluster mode's etcd: one member, Patroni's consensus store (leader key, sync standby).

One member is enough on one machine (it is no more a single point of failure than the
machine itself); a multi-machine deployment runs three. Patroni 3.0 talks to it through
etcd's v3 JSON gateway (its `etcd3:` section), which etcd 3.4 serves by default, so the
v2 API stays off.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from deploy.cluster.layout import ClusterLayout
from deploy.local.stack import pid_alive, port_open, stop_pid

START_TIMEOUT_S = 30.0
MEMBER = "herald-etcd"


def etcd_home(layout: ClusterLayout) -> Path:
    return layout.home / "etcd"


def pid_file(layout: ClusterLayout) -> Path:
    return etcd_home(layout) / "etcd.pid"


def etcd_cmd(layout: ClusterLayout) -> list[str]:
    binary = shutil.which("etcd")
    if binary is None:
        raise SystemExit("etcd missing: run `make bootstrap` (Debian package etcd-server)")
    client = f"http://127.0.0.1:{layout.etcd_client_port}"
    peer = f"http://127.0.0.1:{layout.etcd_peer_port}"
    return [
        binary,
        "--name",
        MEMBER,
        "--data-dir",
        str(etcd_home(layout) / "data"),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        f"{MEMBER}={peer}",
        "--initial-cluster-state",
        "new",
        "--initial-cluster-token",
        f"herald-{layout.base}",
        "--log-level",
        "warn",
    ]


def healthy(layout: ClusterLayout) -> bool:
    """Whether etcd answers `/health` with a healthy member."""
    try:
        url = f"http://127.0.0.1:{layout.etcd_client_port}/health"
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(json.loads(response.read()).get("health") == "true")
    except (OSError, ValueError):
        return False


def etcd_pid(layout: ClusterLayout) -> int | None:
    return pid_alive(pid_file(layout))


def start_etcd(layout: ClusterLayout) -> None:
    """Start etcd unless it runs; returns once it answers healthy."""
    if etcd_pid(layout) is not None and healthy(layout):
        return
    if port_open(layout.etcd_client_port):
        raise SystemExit(f"port {layout.etcd_client_port} is taken by another process")
    etcd_home(layout).mkdir(parents=True, exist_ok=True)
    with (etcd_home(layout) / "etcd.log").open("ab") as out:
        proc = subprocess.Popen(
            etcd_cmd(layout), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file(layout).write_text(str(proc.pid))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not healthy(layout):
        if time.monotonic() > deadline or etcd_pid(layout) is None:
            stop_etcd(layout)
            raise SystemExit(f"etcd did not become healthy; see {etcd_home(layout)}/etcd.log")
        time.sleep(0.2)


def stop_etcd(layout: ClusterLayout) -> None:
    stop_pid(pid_file(layout), "etcd")
