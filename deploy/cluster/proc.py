"""Process checks for the cluster's servers, stricter than the local stack's about death.

A SIGKILLed JVM (or any threaded server) shows as a zombie as soon as its main thread has
died, while its other threads are still exiting and still hold its ports. "Gone" here
means every thread has exited: reaped, or a zombie of one thread waiting for its parent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from deploy.local.stack import pid_alive, process_running


def exited(pid: int) -> bool:
    """Whether `pid` has exited for good (every thread); reaps it when it is a child."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
    except ChildProcessError:
        pass  # not this process's child, or already reaped
    if process_running(pid):
        return False
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except FileNotFoundError:
        return True


def wait_exited(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not exited(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def live_pid(pid_file: Path) -> int | None:
    """The pid in `pid_file` while that process runs; None once it is dying or gone."""
    pid = pid_alive(pid_file)
    return pid if pid is not None and process_running(pid) else None
