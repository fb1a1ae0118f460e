"""Services under test run as real processes (`python -m services.X`), as in production."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from deploy.service_env import OPS_PORT_VARS, PORT_VARS

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One service process with its log captured to a file for assertions and debugging."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        log_dir: Path,
        *,
        port: int | None = None,
        ops_port: int | None = None,
    ) -> None:
        self.name = name
        # A port chosen beforehand when others must know it first (web's origin in the
        # APIs' CORS list).
        self.port = port or free_port()
        self.env = {**env, PORT_VARS[name]: str(self.port)}
        # Always a free one (never the environment's), so that processes of parallel
        # sessions never meet on a default port.
        self.ops_port = self.port
        if name in OPS_PORT_VARS:
            self.ops_port = ops_port or free_port()
            self.env[OPS_PORT_VARS[name]] = str(self.ops_port)
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """Where its `/metrics` is (and `/healthz`, `/readyz` again)."""
        return f"http://127.0.0.1:{self.ops_port}"

    def spawn(self) -> None:
        log_file = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env=self.env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: a feed with workers is a supervisor and its children,
            # and `stop` must not leave a worker behind on the port.
            start_new_session=True,
        )

    async def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        """Spawn and wait until `/readyz` answers 200."""
        self.spawn()
        await self.wait_ready(timeout_s)
        return self

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
                try:
                    if (await client.get(f"{self.base_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout_s}s: {self.log_tail()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to flush or commit anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 25.0) -> None:
        """SIGTERM (a feed supervisor passes it to its workers), then SIGKILL to the
        whole process group of what is left after `timeout_s`."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        # Workers of a supervisor that was killed (or of one that exited early).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
