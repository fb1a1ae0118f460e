"""Where the CLI finds its token and the two API addresses.

Precedence, highest first: the environment (`HERALD_TOKEN`, `HERALD_PUBLISHER_URL`,
`HERALD_FEED_URL`), the config file `herald login` writes, then the local stack's
defaults (publisher on 8081, feed on 8082). The file is
`$XDG_CONFIG_HOME/herald/config.json` (`~/.config/herald/config.json` when unset),
readable by its owner only (0600, its directory 0700): it holds a bearer token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PUBLISHER_URL = "http://127.0.0.1:8081"
DEFAULT_FEED_URL = "http://127.0.0.1:8082"


class ConfigError(Exception):
    """The config file exists but cannot be read as the CLI wrote it."""


@dataclass(frozen=True)
class Config:
    token: str | None
    publisher_url: str
    feed_url: str


def config_path(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "herald" / "config.json"


def _read_file(path: Path) -> dict[str, str]:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{path} is not JSON; run `herald login` again") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; run `herald login` again")
    return {k: v for k, v in data.items() if isinstance(v, str)}


def load(env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if env is None else env
    stored = _read_file(config_path(env))
    return Config(
        token=env.get("HERALD_TOKEN") or stored.get("token"),
        publisher_url=(
            env.get("HERALD_PUBLISHER_URL") or stored.get("publisher_url") or DEFAULT_PUBLISHER_URL
        ).rstrip("/"),
        feed_url=(env.get("HERALD_FEED_URL") or stored.get("feed_url") or DEFAULT_FEED_URL).rstrip(
            "/"
        ),
    )


def save(values: dict[str, str], env: dict[str, str] | None = None) -> Path:
    """Write `values` as the config file, created 0600 before anything is written to it
    (never a moment when the token is readable by others); returns its path."""
    path = config_path(env)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # An existing file keeps its mode through O_CREAT: tighten it too.
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(values, out, indent=2)
        out.write("\n")
    return path
