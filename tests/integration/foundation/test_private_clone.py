"""A checkout in a folder only its owner may enter (a clone in root's home, mode 0700):
`make stop` stops its Postgres for real.

As root the cluster runs as the `postgres` account in a directory outside the checkout,
linked from `.local/pg`; that account cannot traverse the private folder, so every path
handed to it must be the resolved one. The clone (of the committed tree) gets ports and a
cluster of its own and reuses this checkout's virtualenv: the shared stack is never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.support.processes import ROOT, free_port

# initdb of a fresh cluster plus its first start, on a busy machine.
START_TIMEOUT_S = 300
STOP_TIMEOUT_S = 120


@dataclass(frozen=True)
class Clone:
    path: Path
    env: dict[str, str]
    pg_port: int

    def run(self, *cmd: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(cmd),
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    @property
    def pg_link(self) -> Path:
        return self.path / ".local" / "pg"


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def postmaster_pid(data: Path) -> int | None:
    """The postmaster's pid from the first line of the cluster's `postmaster.pid`."""
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Clone]:
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)
    path = private / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(path)], check=True)
    (path / ".venv").symlink_to(ROOT / ".venv")
    ports = {
        "HERALD_LOCAL_PG_PORT": free_port(),
        "HERALD_LOCAL_KAFKA_PORT": free_port(),
        "HERALD_LOCAL_KAFKA_CONTROLLER_PORT": free_port(),
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({name: str(port) for name, port in ports.items()})
    made = Clone(path, env, ports["HERALD_LOCAL_PG_PORT"])
    try:
        yield made
    finally:
        home = made.pg_link.resolve()
        pid = postmaster_pid(home / "data")
        if pid is not None and running(pid):
            # Left running by a failed stop: end it (immediate shutdown) before removing it.
            os.kill(pid, signal.SIGQUIT)
            psutil.Process(pid).wait(timeout=60)
        if made.pg_link.is_symlink():
            shutil.rmtree(home, ignore_errors=True)


def test_make_stop_stops_postgres_of_a_clone_in_a_private_folder(clone: Clone) -> None:
    # The clone's own stack module must answer, or `make stop` could reach the shared stack.
    probe = clone.run(
        ".venv/bin/python",
        "-c",
        "from deploy.local import stack; print(stack.ROOT); print(stack.PG_PORT)",
        timeout_s=60,
    )
    assert probe.stdout.split() == [str(clone.path), str(clone.pg_port)], probe.stderr
    assert not port_open(clone.pg_port)

    started = clone.run(
        ".venv/bin/python", "-m", "deploy.local.stack", "start-postgres", timeout_s=START_TIMEOUT_S
    )
    assert started.returncode == 0, started.stdout + started.stderr
    home = clone.pg_link.resolve()
    assert home != (ROOT / ".local" / "pg").resolve()
    pid = postmaster_pid(home / "data")
    assert pid is not None and running(pid)
    assert port_open(clone.pg_port)

    stopped = clone.run("make", "stop", timeout_s=STOP_TIMEOUT_S)

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not running(pid), f"postgres (pid {pid}) still runs after `make stop`"
    assert not port_open(clone.pg_port)
