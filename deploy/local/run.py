"""`make run`: the six services on the local stack, until Ctrl-C.

Starts publisher, fan-out, feed, retention, push and web as child processes with the local
stack's addresses, prints their URLs, and on Ctrl-C (or SIGTERM) stops them, then the stack.
The web app (dev login) calls the publisher and feed on their local ports, and its origin
is added to `HERALD_CORS_ORIGINS`, since its pages open the feed's stream directly.
The feed runs one worker process per core, at most four (`HERALD_FEED_WORKERS`, see
`services.feed.workers`), unless the environment says otherwise. Push runs one process
per core, at most two (`HERALD_PUSH_PROCESSES`): they share its consumer groups, so a
post's shard records are spread over them; the extra ones serve their operations
endpoints on the next ports after `HERALD_PUSH_OPS_PORT` (`push-2` on 8086, …).
When the `prometheus` binary is installed, a local Prometheus (deploy/local/prometheus.py)
scrapes the six services and evaluates Herald's alerts; it is stopped first on exit.
A child that dies is reported and the others are stopped too: a half-running system
would only confuse.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from deploy.local import prometheus, stack
from deploy.service_env import kept_content_master_key

SERVICES = {
    "publisher": ("HERALD_PUBLISHER_PORT", 8081, "admin API"),
    "feed": ("HERALD_FEED_PORT", 8082, "client API + SSE"),
    "fanout": ("HERALD_FANOUT_OPS_PORT", 8083, "metrics/health"),
    "retention": ("HERALD_RETENTION_OPS_PORT", 8084, "metrics/health"),
    "push": ("HERALD_PUSH_OPS_PORT", 8085, "metrics/health"),
    "web": ("HERALD_WEB_PORT", 8080, "the web app"),
}
# The operations ports (/healthz, /readyz, /metrics) of the services with a public port;
# the others' one port above is theirs.
OPS_PORTS = {
    "publisher": ("HERALD_PUBLISHER_OPS_PORT", 8091),
    "feed": ("HERALD_FEED_OPS_PORT", 8092),
    "web": ("HERALD_WEB_OPS_PORT", 8090),
}


def _dev_master_key() -> str:
    """This checkout's content master key, kept under `.local/`."""
    return kept_content_master_key(stack.LOCAL / "content-master-key", "local-1")


# Feed worker processes on a machine with many cores: a few are plenty for a laptop, and
# each holds its own pool connections and live consumer.
FEED_WORKERS_MAX = 4


def feed_workers() -> int:
    """One feed worker per core, at most `FEED_WORKERS_MAX` (HERALD_FEED_WORKERS wins)."""
    return max(1, min(os.cpu_count() or 1, FEED_WORKERS_MAX))


# Push processes: sending is CPU-bound (an ECDH per push), one process per core; two
# meet the design's 2-core target, more are for machines that push more.
PUSH_PROCESSES_MAX = 2


def push_processes() -> int:
    """One push process per core, at most `PUSH_PROCESSES_MAX` (HERALD_PUSH_PROCESSES wins)."""
    return max(1, min(os.cpu_count() or 1, PUSH_PROCESSES_MAX))


def main() -> int:
    stack.start_postgres()
    stack.start_kafka()
    env = {**os.environ, **dict(line.split("=", 1) for line in stack.env_lines())}
    env.setdefault("HERALD_MEDIA_DIR", str(stack.LOCAL / "media"))
    # Made by the first service to start (feed or push) and kept across runs: browsers'
    # push subscriptions are bound to its public key.
    env.setdefault(
        "HERALD_PUSH_VAPID_PRIVATE_KEY_FILE", str(stack.LOCAL / "push" / "vapid-private-key.pem")
    )
    env.setdefault("HERALD_LOG_JSON", "false")
    env.setdefault("HERALD_CONTENT_MASTER_KEY", _dev_master_key())
    env.setdefault("HERALD_FEED_WORKERS", str(feed_workers()))
    env.setdefault("HERALD_PUSH_PROCESSES", str(push_processes()))
    _wire_web(env)
    logs = stack.LOCAL / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for name in SERVICES:
            log_file = (logs / f"{name}.log").open("ab")
            children[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=stack.ROOT,
            )
        push_port = int(env.get(SERVICES["push"][0], str(SERVICES["push"][1])))
        for n in range(2, max(1, int(env["HERALD_PUSH_PROCESSES"])) + 1):
            name = f"push-{n}"
            log_file = (logs / f"{name}.log").open("ab")
            children[name] = subprocess.Popen(
                [sys.executable, "-m", "services.push"],
                env={**env, SERVICES["push"][0]: str(push_port + n - 1)},
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=stack.ROOT,
            )
        prometheus_url = _start_prometheus(env)
        print("\nHerald is starting. Logs: .local/logs/<service>.log")
        for name, (var, default, what) in SERVICES.items():
            port = env.get(var, str(default))
            if name == "feed":
                what = f"{what}, {env['HERALD_FEED_WORKERS']} worker processes"
            if name == "push":
                what = f"{what}, {env['HERALD_PUSH_PROCESSES']} processes from this port on"
            if name in OPS_PORTS:
                what = f"{what}; metrics/health on {_ops_port(env, name)}"
            print(f"  {name:<10} http://127.0.0.1:{port}  ({what})")
        if prometheus_url:
            print(f"  prometheus {prometheus_url}  (metrics and alerts of the six services)")
        docs = [
            f"http://127.0.0.1:{env.get(SERVICES[n][0], SERVICES[n][1])}/docs"
            for n in ("publisher", "feed")
        ]
        print(f"  API docs   {'  '.join(docs)}")
        print(f"  Browser:   http://127.0.0.1:{_port(env, 'web')}  (log in with any name)")
        print("  Try it:    make token SUB=alice   then curl with 'Authorization: Bearer …'")
        print("Press Ctrl-C to stop everything.\n")
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"{name} exited with {child.returncode}; see .local/logs/{name}.log")
                    stopping = True
            time.sleep(0.5)
    finally:
        prometheus.stop()
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        stack.stop_pid(stack.KafkaPaths().pid, "kafka")
        stack.stop_postgres()
    return 0


def _port(env: dict[str, str], name: str) -> str:
    var, default, _ = SERVICES[name]
    return env.get(var, str(default))


def _ops_port(env: dict[str, str], name: str) -> str:
    """Where `name` serves /metrics: its operations port."""
    if name not in OPS_PORTS:
        return _port(env, name)
    var, default = OPS_PORTS[name]
    return env.get(var, str(default))


def _wire_web(env: dict[str, str]) -> None:
    """Point web at the local publisher and feed, and add web's origin to the APIs' CORS
    origins (beside any the environment already lists)."""
    origin = env.setdefault("HERALD_WEB_PUBLIC_URL", f"http://127.0.0.1:{_port(env, 'web')}")
    env.setdefault("HERALD_WEB_PUBLISHER_URL", f"http://127.0.0.1:{_port(env, 'publisher')}")
    env.setdefault("HERALD_WEB_FEED_URL", f"http://127.0.0.1:{_port(env, 'feed')}")
    env.setdefault("HERALD_WEB_AUTH", "dev")
    origins = [o.strip() for o in env.get("HERALD_CORS_ORIGINS", "").split(",") if o.strip()]
    if origin.rstrip("/") not in origins:
        origins.append(origin.rstrip("/"))
    env["HERALD_CORS_ORIGINS"] = ",".join(origins)


def _start_prometheus(env: dict[str, str]) -> str | None:
    """The local Prometheus's URL, or None when it is not installed or cannot start:
    the services run without it."""
    if prometheus.binary() is None:
        return None
    ports = {name: int(_ops_port(env, name)) for name in SERVICES}
    try:
        return prometheus.start(ports)
    except RuntimeError as exc:
        print(f"prometheus not started: {exc}")
        return None


if __name__ == "__main__":
    sys.exit(main())
