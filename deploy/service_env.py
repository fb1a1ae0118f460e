"""How Herald's own tooling configures a service process: which variable sets its port,
and the content master key a development or cluster database is kept under.

Shared by `make run` (deploy/local/run.py), cluster mode (deploy/cluster/services.py) and
the test suite's service processes, so the three cannot disagree about a variable name.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

# The variable that sets each service's own port: its HTTP API, or for the services
# without one, its operations endpoints (/healthz, /readyz, /metrics).
PORT_VARS = {
    "publisher": "HERALD_PUBLISHER_PORT",
    "fanout": "HERALD_FANOUT_OPS_PORT",
    "feed": "HERALD_FEED_PORT",
    "retention": "HERALD_RETENTION_OPS_PORT",
    "push": "HERALD_PUSH_OPS_PORT",
    "web": "HERALD_WEB_PORT",
}
# The operations port of the services that also have a public HTTP port.
OPS_PORT_VARS = {
    "publisher": "HERALD_PUBLISHER_OPS_PORT",
    "feed": "HERALD_FEED_OPS_PORT",
    "web": "HERALD_WEB_OPS_PORT",
}


def kept_content_master_key(path: Path, key_id: str) -> str:
    """The content master key stored at `path` (`key_id:base64url`), made at random on
    first use and kept: every content key of the database it serves is wrapped under it,
    so a new one would make every stored post unreadable."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        encoded = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        path.write_text(f"{key_id}:{encoded}\n")
        path.chmod(0o600)
    return path.read_text().strip()
