"""`make cluster`, `make cluster-stop`, `make cluster-status`: Herald's multi-node shape on
one machine.

    python -m deploy.cluster.stack start    data plane, migrations, two of every service
    python -m deploy.cluster.stack stop     services first, then the data plane
    python -m deploy.cluster.stack status   who leads what, each process, HAProxy's backends

`start` returns once everything answers, leaving it running in the background (the
processes are in sessions of their own); `stop` ends it and says what, if anything,
survived. The port base comes from HERALD_CLUSTER_PORT_BASE (see `layout`).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable

import httpx

from deploy.cluster.dataplane import DataPlane
from deploy.cluster.layout import HTTP_FRONTS, ClusterLayout
from deploy.cluster.services import MEMBERS, ClusterServices, ProcessState, front_url


def log(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


def urls(layout: ClusterLayout) -> list[str]:
    """What a person needs to use the running cluster."""
    pg = "postgresql://herald@127.0.0.1"
    return [
        f"  web        {front_url(layout, 'web')}  (log in with any name)",
        f"  publisher  {front_url(layout, 'publisher')}  (admin API, docs at /docs)",
        f"  feed       {front_url(layout, 'feed')}  (client API + SSE, docs at /docs)",
        f"  haproxy    http://127.0.0.1:{layout.haproxy_stats_port}/  (backends and their health)",
        f"  postgres   {pg}:{layout.pg_primary_port}/herald  (primary, read-write)",
        f"             {pg}:{layout.pg_replica_port}/herald  (a replica, read-only)",
        f"  kafka      {layout.kafka_bootstrap}",
        f"  logs       {layout.home / 'logs'}/<service>-<n>.log",
    ]


def backend_states(stats_csv: str) -> dict[str, str]:
    """`server → status` ("UP", "DOWN", "MAINT", …) of every server line in HAProxy's
    stats CSV (`GET /;csv`), named `<proxy>/<server>`; front and back summary lines are
    left out."""
    text = stats_csv.removeprefix("# ")
    states = {}
    for row in csv.DictReader(io.StringIO(text)):
        server = row.get("svname") or ""
        if server in ("FRONTEND", "BACKEND", ""):
            continue
        states[f"{row['pxname']}/{server}"] = (row.get("status") or "?").split(" ")[0]
    return states


def fetch_backend_states(layout: ClusterLayout) -> dict[str, str] | None:
    """HAProxy's view of its backends, None when its stats page does not answer."""
    try:
        response = httpx.get(f"http://127.0.0.1:{layout.haproxy_stats_port}/;csv", timeout=3)
        response.raise_for_status()
    except httpx.HTTPError:
        return None
    return backend_states(response.text)


def process_lines(states: Iterable[ProcessState]) -> list[str]:
    lines = []
    for state in states:
        if state.pid is None:
            what = "down"
        else:
            what = f"up (pid {state.pid})" + ("" if state.ready else ", not ready")
        lines.append(f"  {state.process.name:<12} {what}")
    return lines


def backend_lines(states: dict[str, str] | None) -> list[str]:
    if states is None:
        return ["  haproxy's stats page does not answer"]
    return [f"  {name:<24} {status}" for name, status in sorted(states.items())]


def start(layout: ClusterLayout) -> int:
    plane = DataPlane(layout)
    log(f"starting the data plane under {layout.home}")
    plane.start()
    log("migrating through the primary port, then starting two processes of each service")
    services = ClusterServices(layout)
    try:
        services.start()
    except RuntimeError as exc:
        log(f"error: {exc}")
        log("stopping what started; `make cluster-status` shows the rest")
        services.stop()
        return 1
    print("\nHerald cluster mode is running (make cluster-status, make cluster-stop):")
    print("\n".join(urls(layout)), flush=True)
    return 0


def stop(layout: ClusterLayout) -> int:
    services = ClusterServices(layout)
    left = services.stop()
    if left:
        log(f"error: still running after SIGKILL: {', '.join(left)}")
    failed = bool(left)
    try:
        DataPlane(layout).stop()
    except SystemExit as exc:
        log(f"error: {exc}")
        failed = True
    survivors = [s.process.name for s in services.status() if s.pid is not None]
    if survivors:
        log(f"error: still running: {', '.join(survivors)}")
        failed = True
    if not failed:
        log("stopped: every service process and the data plane")
    return 1 if failed else 0


def status(layout: ClusterLayout) -> int:
    print(f"cluster on port base {layout.base} ({layout.home})")
    print(DataPlane(layout).status().format())
    states = ClusterServices(layout).status()
    print("service processes:")
    print("\n".join(process_lines(states)))
    print("haproxy backends:")
    print("\n".join(backend_lines(fetch_backend_states(layout))))
    fronts = ", ".join(f"{name} {front_url(layout, name)}" for name in HTTP_FRONTS)
    print(f"fronts: {fronts}")
    up = sum(1 for s in states if s.ready)
    print(f"{up} of {len(MEMBERS)} service processes ready")
    return 0


COMMANDS = {"start": start, "stop": stop, "status": status}


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    return COMMANDS[command](ClusterLayout.from_env())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
