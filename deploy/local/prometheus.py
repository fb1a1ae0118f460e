"""A local Prometheus for `make run`: the system's `prometheus` binary under `.local/prometheus/`.

Usage: python -m deploy.local.prometheus {start,stop,config}

The config is derived from `deploy/prometheus/prometheus.yml` (the docker-compose one):
the same jobs, each pointed at its service's loopback operations port, and the same `alerts.yml`,
so the local Prometheus shows the alerts an operator would get. It listens on
127.0.0.1:19090 (HERALD_LOCAL_PROMETHEUS_PORT). `start` replaces a leftover instance of an
earlier run (found by its pid file) and returns once Prometheus answers `/-/ready`;
`stop` ends only the process named by the pid file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml  # type: ignore[import-untyped]

from deploy.local import stack

RULES_DIR = stack.ROOT / "deploy" / "prometheus"
COMPOSE_CONFIG = RULES_DIR / "prometheus.yml"
PORT = int(os.environ.get("HERALD_LOCAL_PROMETHEUS_PORT", "19090"))
# Default ports of each service's /metrics, as `make run` starts them (see
# deploy/local/run.py): the operations ports (publisher, feed and web serve no /metrics on
# their public ports).
SERVICE_PORTS = {
    "publisher": 8091,
    "feed": 8092,
    "fanout": 8083,
    "retention": 8084,
    "push": 8085,
    "web": 8090,
}
# Prometheus opens an empty TSDB in about a second; this bounds a sick start.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
# Locally a short interval makes a fresh `make run` show data at once.
LOCAL_SCRAPE_INTERVAL = "5s"

# Processes this Python process started, so stopping them also reaps them (a zombie
# child would otherwise look alive to a pid check).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class LocalPrometheus:
    """Where one local Prometheus keeps its config, data, log and pid file."""

    home: Path = field(default_factory=lambda: stack.LOCAL / "prometheus")
    port: int = PORT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.home / "prometheus.yml"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def pid(self) -> Path:
        return self.home / "prometheus.pid"

    @property
    def log(self) -> Path:
        return self.home / "prometheus.log"


def binary() -> str | None:
    """The Prometheus server binary, or None when it is not installed."""
    return shutil.which("prometheus")


def local_config(
    targets: Mapping[str, int], scrape_interval: str = LOCAL_SCRAPE_INTERVAL
) -> dict[str, Any]:
    """The compose config's jobs named in `targets` (job → loopback port), alerts included."""
    base = yaml.safe_load(COMPOSE_CONFIG.read_text())
    jobs = {job["job_name"]: job for job in base["scrape_configs"]}
    unknown = set(targets) - set(jobs)
    if unknown:
        raise ValueError(f"no scrape job for {sorted(unknown)} in {COMPOSE_CONFIG.name}")
    # The compose scrape_timeout may exceed a short local interval: Prometheus then
    # defaults the timeout to the interval.
    global_config = {k: v for k, v in base["global"].items() if k != "scrape_timeout"}
    return {
        "global": {
            **global_config,
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
            "external_labels": {**global_config.get("external_labels", {}), "env": "local"},
        },
        "rule_files": [str(RULES_DIR / name) for name in base["rule_files"]],
        "scrape_configs": [
            {**jobs[name], "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in targets.items()
        ],
    }


def start(
    targets: Mapping[str, int] | None = None,
    instance: LocalPrometheus | None = None,
    scrape_interval: str = LOCAL_SCRAPE_INTERVAL,
) -> str:
    """Start Prometheus scraping `targets` (default: the six services) and wait until it
    is ready; return its URL. Raises RuntimeError if it cannot start."""
    instance = instance or LocalPrometheus()
    exe = binary()
    if exe is None:
        raise RuntimeError("prometheus binary not found: run `make bootstrap`")
    stop(instance)
    if stack.port_open(instance.port):
        raise RuntimeError(
            f"port {instance.port} is taken by another process; set HERALD_LOCAL_PROMETHEUS_PORT"
        )
    instance.data.mkdir(parents=True, exist_ok=True)
    config = local_config(SERVICE_PORTS if targets is None else targets, scrape_interval)
    instance.config.write_text(yaml.safe_dump(config, sort_keys=False))
    with instance.log.open("ab") as out:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={instance.config}",
                f"--storage.tsdb.path={instance.data}",
                "--storage.tsdb.retention.time=2d",
                f"--web.listen-address=127.0.0.1:{instance.port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=instance.home,
            # Its own session: Ctrl-C on `make run` reaches run.py, which stops it in order.
            start_new_session=True,
        )
    _children[proc.pid] = proc
    instance.pid.write_text(str(proc.pid))
    _wait_ready(instance, proc)
    return instance.url


def _wait_ready(instance: LocalPrometheus, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                instance.pid.unlink(missing_ok=True)
                tail = instance.log.read_text(errors="replace").splitlines()[-10:]
                raise RuntimeError("prometheus exited at start:\n" + "\n".join(tail))
            try:
                if client.get(f"{instance.url}/-/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    stop(instance)
    raise RuntimeError(f"prometheus not ready in {START_TIMEOUT_S:.0f}s; see {instance.log}")


def stop(instance: LocalPrometheus | None = None) -> None:
    """Stop the Prometheus named by the pid file, if it runs."""
    instance = instance or LocalPrometheus()
    pid = stack.pid_alive(instance.pid)
    child = _children.pop(pid, None) if pid is not None else None
    if child is None:
        stack.stop_pid(instance.pid, "prometheus", STOP_TIMEOUT_S)
        return
    child.terminate()
    try:
        child.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=5)
    instance.pid.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "start":
        print(start())
    elif command == "stop":
        stop()
    elif command == "config":
        print(yaml.safe_dump(local_config(SERVICE_PORTS), sort_keys=False), end="")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
