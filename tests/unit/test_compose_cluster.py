"""docker-compose.cluster.yml describes cluster mode: what `make cluster` runs, as containers.

`docker compose config` validates the file where the Compose CLI exists. Everywhere else the
parsed YAML is checked for what would make the cluster wrong rather than merely invalid:
three brokers of one KRaft cluster with distinct node ids, two Patroni nodes in synchronous
mode, HAProxy's Postgres and HTTP ports agreeing with the services' URLs, two processes of
every service with the settings it needs. Each check is a function returning the problems
it finds, and the tests also feed it a broken copy, so a check that can no longer fail
fails here. HAProxy's and Patroni's own validators check their configuration files; the
bootstrap installs both, so a missing one fails the test.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.cluster.yml"
HAPROXY_CFG = ROOT / "deploy/cluster/compose/haproxy.cfg"
PATRONI_YML = ROOT / "deploy/cluster/compose/patroni.yml"
PATRONI_DOCKERFILE = ROOT / "deploy/cluster/patroni.Dockerfile"

# Each service, its port variable and port (as in docker-compose.yml).
HERALD = {
    "publisher": ("HERALD_PUBLISHER_PORT", 8081),
    "fanout": ("HERALD_FANOUT_OPS_PORT", 8083),
    "feed": ("HERALD_FEED_PORT", 8082),
    "retention": ("HERALD_RETENTION_OPS_PORT", 8084),
    "push": ("HERALD_PUSH_OPS_PORT", 8085),
    "web": ("HERALD_WEB_PORT", 8080),
}
HTTP_PAIRS = ("web", "publisher", "feed")
BROKERS = ("kafka1", "kafka2", "kafka3")
PATRONI_NODES = ("pg1", "pg2")
REQUIRED_ENV = {
    "HERALD_ENVIRONMENT",
    "HERALD_KAFKA_BOOTSTRAP",
    "HERALD_KAFKA_REPLICATION_FACTOR",
    "HERALD_DATABASE_URL",
    "HERALD_JWT_SECRET",
    "HERALD_MEDIA_DIR",
    "HERALD_CONTENT_MASTER_KEY",
}
Problems = list[str]


def load() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def replicas(service: str) -> tuple[str, str]:
    return f"{service}1", f"{service}2"


def env(document: dict[str, Any], name: str) -> dict[str, str]:
    return {k: str(v) for k, v in document["services"][name].get("environment", {}).items()}


# --------------------------------------------------------------------------- HAProxy config


def haproxy_sections(text: str) -> dict[str, list[str]]:
    """`listen`/`frontend`/`backend` sections of haproxy.cfg: name -> directive lines."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line:
            continue
        if not line[0].isspace():
            words = line.split()
            current = sections.setdefault(words[1], []) if len(words) > 1 else None
            if words[0] not in ("listen", "frontend", "backend"):
                current = None
        elif current is not None:
            current.append(line.strip())
    return sections


def bound_port(lines: list[str]) -> int | None:
    for line in lines:
        if line.startswith("bind "):
            return int(line.split()[1].rsplit(":", 1)[1])
    return None


def servers(lines: list[str]) -> list[tuple[str, str, int, bool]]:
    """(name, host, port, backup) of each `server` line."""
    found = []
    for line in lines:
        words = line.split()
        if words[0] == "server":
            host, port = words[2].rsplit(":", 1)
            found.append((words[1], host, int(port), "backup" in words))
    return found


def section_on(sections: dict[str, list[str]], port: int) -> list[str] | None:
    for lines in sections.values():
        if bound_port(lines) == port:
            return lines
    return None


# --------------------------------------------------------------------------- checks


def check_images(document: dict[str, Any]) -> Problems:
    """Every service has an image or a build; mounted paths exist; volumes are declared;
    a dependency is a service, with a health check when its health is awaited."""
    problems: Problems = []
    declared = set(document.get("volumes") or {})
    found = document["services"]
    for name, service in found.items():
        if "image" not in service and "build" not in service:
            problems.append(f"{name}: neither image nor build")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                if not (ROOT / source).exists():
                    problems.append(f"{name} mounts missing {source}")
            elif source not in declared:
                problems.append(f"{name} uses undeclared volume {source}")
        for dependency, how in (service.get("depends_on") or {}).items():
            if dependency not in found:
                problems.append(f"{name} depends on unknown {dependency}")
            elif (
                how.get("condition") == "service_healthy"
                and "healthcheck" not in (found[dependency])
            ):
                problems.append(f"{name} waits for {dependency}'s health, which has no check")
    return problems


def check_brokers(document: dict[str, Any]) -> Problems:
    """Three combined broker+controller nodes of one KRaft cluster, RF 3, min ISR 2."""
    problems: Problems = []
    found = document["services"]
    brokers = [name for name in found if name.startswith("kafka")]
    if sorted(brokers) != list(BROKERS):
        return [f"brokers are {sorted(brokers)}, not {list(BROKERS)}"]
    ids = {name: str(env(document, name).get("KAFKA_NODE_ID")) for name in BROKERS}
    if len(set(ids.values())) != 3:
        problems.append(f"broker node ids are not distinct: {ids}")
    if len({env(document, name).get("CLUSTER_ID") for name in BROKERS}) != 1:
        problems.append("brokers do not share one CLUSTER_ID")
    expected_voters = {f"{ids[name]}@{name}:9093" for name in BROKERS}
    for name in BROKERS:
        settings = env(document, name)
        if not found[name].get("image", "").startswith("apache/kafka:"):
            problems.append(f"{name}: not the official apache/kafka image")
        if settings.get("KAFKA_PROCESS_ROLES") != "broker,controller":
            problems.append(f"{name}: not a combined broker and controller")
        voters = set(settings.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "").split(","))
        if voters != expected_voters:
            problems.append(f"{name}: quorum voters {sorted(voters)} != {sorted(expected_voters)}")
        if settings.get("KAFKA_ADVERTISED_LISTENERS") != f"PLAINTEXT://{name}:9092":
            problems.append(f"{name}: advertises {settings.get('KAFKA_ADVERTISED_LISTENERS')}")
        for key, value in (
            ("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"),
            ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
            ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
            ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false"),
        ):
            if settings.get(key) != value:
                problems.append(f"{name}: {key}={settings.get(key)}, want {value}")
        if "healthcheck" not in found[name]:
            problems.append(f"{name}: no health check")
    return problems


def check_patroni(document: dict[str, Any], patroni: dict[str, Any]) -> Problems:
    """Two Patroni nodes from the one Dockerfile, each naming itself, over etcd, synchronous."""
    problems: Problems = []
    found = document["services"]
    nodes = [name for name, s in found.items() if "PATRONI_NAME" in (s.get("environment") or {})]
    if sorted(nodes) != list(PATRONI_NODES):
        return [f"Patroni nodes are {sorted(nodes)}, not {list(PATRONI_NODES)}"]
    rest_port = int(patroni["restapi"]["listen"].rsplit(":", 1)[1])
    pg_port = int(patroni["postgresql"]["listen"].rsplit(":", 1)[1])
    for name in PATRONI_NODES:
        settings = env(document, name)
        build = found[name].get("build", {})
        if (ROOT / build.get("context", ".") / build.get("dockerfile", "")) != PATRONI_DOCKERFILE:
            problems.append(f"{name}: not built from {PATRONI_DOCKERFILE.name}")
        if settings["PATRONI_NAME"] != name:
            problems.append(f"{name}: calls itself {settings['PATRONI_NAME']}")
        if settings.get("PATRONI_RESTAPI_CONNECT_ADDRESS") != f"{name}:{rest_port}":
            problems.append(f"{name}: REST API advertised elsewhere")
        if settings.get("PATRONI_POSTGRESQL_CONNECT_ADDRESS") != f"{name}:{pg_port}":
            problems.append(f"{name}: Postgres advertised elsewhere")
        if not any(v.endswith(":/etc/patroni:ro") for v in found[name].get("volumes", [])):
            problems.append(f"{name}: Patroni configuration not mounted")
        if found[name].get("depends_on", {}).get("etcd", {}).get("condition") != "service_healthy":
            problems.append(f"{name}: starts before etcd is healthy")
    etcd_host, etcd_port = patroni["etcd3"]["hosts"].split(":")
    if etcd_host not in found or not str(found[etcd_host].get("image", "")).startswith(
        ("quay.io/coreos/etcd:", "gcr.io/etcd-development/etcd:")
    ):
        problems.append(f"Patroni's etcd {etcd_host} is not an official etcd service")
    elif f"--listen-client-urls=http://0.0.0.0:{etcd_port}" not in found[etcd_host]["command"]:
        problems.append(f"etcd does not listen on the port Patroni uses ({etcd_port})")
    if patroni["bootstrap"]["dcs"].get("synchronous_mode") is not True:
        problems.append("Patroni is not in synchronous mode")
    return problems


def check_haproxy(document: dict[str, Any], cfg: str, patroni: dict[str, Any]) -> Problems:
    """HAProxy routes the services' database URLs by Patroni's checks, and each HTTP pair."""
    problems: Problems = []
    found = document["services"]
    sections = haproxy_sections(cfg)
    rest_port = int(patroni["restapi"]["listen"].rsplit(":", 1)[1])
    pg_port = int(patroni["postgresql"]["listen"].rsplit(":", 1)[1])
    published = {p.rsplit(":", 1)[1] for p in found["haproxy"].get("ports", [])}
    if not found["haproxy"].get("image", "").startswith("haproxy:"):
        problems.append("haproxy: not the official image")
    primary = urlsplit(env(document, "publisher1")["HERALD_DATABASE_URL"])
    replica = urlsplit(env(document, "feed1").get("HERALD_DATABASE_READ_URL", ""))
    for url, check in ((primary, "/primary"), (replica, "/replica")):
        if url.hostname != "haproxy" or url.port is None:
            problems.append(f"database URL {url.geturl()!r} does not go through HAProxy")
            continue
        lines = section_on(sections, url.port)
        if lines is None:
            problems.append(f"HAProxy binds nothing on {url.port}")
            continue
        if f"http-check send meth GET uri {check}" not in lines:
            problems.append(f"port {url.port} is not checked with Patroni's {check}")
        active = {(host, port) for _, host, port, backup in servers(lines) if not backup}
        if active != {(node, pg_port) for node in PATRONI_NODES}:
            problems.append(f"port {url.port} routes to {sorted(active)}")
        unchecked = [
            name
            for name, _, _, backup in servers(lines)
            if not backup
            and not any(
                line.startswith(f"server {name} ") and f"check port {rest_port}" in line
                for line in lines
            )
        ]
        if unchecked:
            problems.append(f"port {url.port}: {unchecked} not checked on Patroni's REST port")
        if not any(
            line.startswith("default-server") and "on-marked-down shutdown-sessions" in line
            for line in lines
        ):
            problems.append(f"port {url.port}: a demoted node's sessions are not cut")
    for service in HTTP_PAIRS:
        port = HERALD[service][1]
        lines = section_on(sections, port)
        if lines is None:
            problems.append(f"HAProxy has no front for {service} on {port}")
            continue
        routed = {(host, p) for _, host, p, _ in servers(lines)}
        if routed != {(name, port) for name in replicas(service)}:
            problems.append(f"{service}'s front routes to {sorted(routed)}")
        if str(port) not in published:
            problems.append(f"{service}'s front ({port}) is not published")
        if any("stick" in line or "cookie" in line for line in lines):
            problems.append(f"{service}'s front is sticky")
        # Anonymous callers are limited per client address: HAProxy must pass it on, and
        # the service must trust it, or all of them share HAProxy's one bucket.
        if "option forwardfor" not in lines:
            problems.append(f"{service}'s front hides the client's address")
        for name in replicas(service):
            if "FORWARDED_ALLOW_IPS" not in env(document, name):
                problems.append(f"{name} does not trust HAProxy's X-Forwarded-For")
    for variable, service in (
        ("HERALD_WEB_PUBLISHER_URL", "publisher"),
        ("HERALD_WEB_FEED_URL", "feed"),
    ):
        url = urlsplit(env(document, "web1").get(variable, ""))
        if (url.hostname, url.port) != ("haproxy", HERALD[service][1]):
            problems.append(f"web's {variable} does not go through HAProxy's {service} front")
    return problems


def check_services(document: dict[str, Any]) -> Problems:
    """Two processes of every service, from one image, each with what it needs."""
    problems: Problems = []
    found = document["services"]
    bootstrap = {f"{name}:9092" for name in BROKERS}
    images = set()
    for service, (port_var, port) in HERALD.items():
        for name in replicas(service):
            if name not in found:
                problems.append(f"{name} is missing")
                continue
            spec = found[name]
            settings = env(document, name)
            images.add(spec.get("image"))
            if spec.get("build") != ".":
                problems.append(f"{name}: not built from the repository's Dockerfile")
            if spec.get("command") != ["python", "-m", f"services.{service}"]:
                problems.append(f"{name}: runs {spec.get('command')}")
            if missing := REQUIRED_ENV - settings.keys():
                problems.append(f"{name}: lacks {sorted(missing)}")
            if set(settings.get("HERALD_KAFKA_BOOTSTRAP", "").split(",")) != bootstrap:
                problems.append(f"{name}: bootstrap is not all three brokers")
            if settings.get("HERALD_KAFKA_REPLICATION_FACTOR") != "3":
                problems.append(f"{name}: topics would not have 3 replicas")
            if settings.get(port_var) != str(port):
                problems.append(f"{name}: {port_var} is not {port}")
            if f"127.0.0.1:{port}/healthz" not in " ".join(
                spec.get("healthcheck", {}).get("test", [])
            ):
                problems.append(f"{name}: no health check on its port")
            waits = {
                d
                for d, how in (spec.get("depends_on") or {}).items()
                if how.get("condition") == "service_healthy"
            }
            needs = {"haproxy"} | (
                {*replicas("publisher")[:1], *replicas("feed")[:1]}
                if service == "web"
                else set(BROKERS)
            )
            if not needs <= waits:
                problems.append(f"{name}: does not wait for {sorted(needs - waits)}")
            has_read_url = "HERALD_DATABASE_READ_URL" in settings
            if has_read_url != (service == "feed"):
                problems.append(f"{name}: the read-only URL is for the feed's anonymous reads only")
    if len(images) != 1:
        problems.append(f"services run from several images: {sorted(map(str, images))}")
    for service in ("publisher", "feed", "retention"):
        for name in replicas(service):
            mount = f"media:{env(document, name).get('HERALD_MEDIA_DIR')}"
            if mount not in found.get(name, {}).get("volumes", []):
                problems.append(f"{name}: does not share the media volume")
    return problems


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load()


@pytest.fixture(scope="module")
def patroni() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PATRONI_YML.read_text())
    return loaded


@pytest.fixture
def etcd_stand_in() -> Iterator[int]:
    """A listening socket where Patroni's validator expects etcd: it checks only that the
    address is reachable, and the real etcd is a container here."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


# --------------------------------------------------------------------------- tests


def test_compose_cli_accepts_the_file() -> None:
    docker = shutil.which("docker")
    cli_works = docker is not None and (
        subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        ).returncode
        == 0
    )
    if cli_works:
        assert docker is not None
        result = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    # What `config` also checks, for machines without the Compose CLI.
    assert check_images(load()) == []


def test_three_brokers_of_one_kraft_cluster(document: dict[str, Any]) -> None:
    assert check_brokers(document) == []


def test_two_patroni_nodes_in_synchronous_mode(
    document: dict[str, Any], patroni: dict[str, Any]
) -> None:
    assert check_patroni(document, patroni) == []
    dockerfile = PATRONI_DOCKERFILE.read_text()
    assert re.search(r"^FROM postgres:15$", dockerfile, re.M)
    installs = re.search(r"apt-get install[^\n]*", dockerfile)
    assert installs is not None
    assert {"patroni", "postgresql-15-hll"} <= set(installs.group(0).split())


def test_haproxy_routes_what_the_services_use(
    document: dict[str, Any], patroni: dict[str, Any]
) -> None:
    assert check_haproxy(document, HAPROXY_CFG.read_text(), patroni) == []


def test_two_processes_of_every_service(document: dict[str, Any]) -> None:
    assert check_services(document) == []


def test_settings_use_the_names_of_env_example(document: dict[str, Any]) -> None:
    documented = set(re.findall(r"^#? ?(HERALD_\w+)=", (ROOT / ".env.example").read_text(), re.M))
    for service in HERALD:
        for name in replicas(service):
            used = {key for key in env(document, name) if key.startswith("HERALD_")}
            assert used <= documented, f"{name} sets undocumented {used - documented}"


def broken(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("services", "kafka3", "environment", "KAFKA_NODE_ID"), 2, "not distinct"),
        (("services", "kafka2", "environment", "CLUSTER_ID"), "other", "one CLUSTER_ID"),
        (("services", "kafka1", "environment", "KAFKA_MIN_INSYNC_REPLICAS"), 1, "MIN_INSYNC"),
        (("services", "kafka3"), None, "brokers are"),
    ],
)
def test_broker_check_catches(
    document: dict[str, Any], path: tuple[str, ...], value: Any, problem: str
) -> None:
    assert any(problem in p for p in check_brokers(broken(document, path, value)))


def test_patroni_check_catches(document: dict[str, Any], patroni: dict[str, Any]) -> None:
    renamed = broken(document, ("services", "pg2", "environment", "PATRONI_NAME"), "pg1")
    assert any("calls itself" in p for p in check_patroni(renamed, patroni))
    asynchronous = copy.deepcopy(patroni)
    asynchronous["bootstrap"]["dcs"]["synchronous_mode"] = False
    assert any("synchronous" in p for p in check_patroni(document, asynchronous))


def test_haproxy_check_catches(document: dict[str, Any], patroni: dict[str, Any]) -> None:
    cfg = HAPROXY_CFG.read_text()
    assert any(
        "5000" in p for p in check_haproxy(document, cfg.replace("*:5000", "*:5999"), patroni)
    )
    hidden = cfg.replace("option forwardfor\n    bind *:8082", "bind *:8082")
    assert any("hides the client" in p for p in check_haproxy(document, hidden, patroni))
    swapped = cfg.replace("uri /primary", "uri /replica")
    assert any("/primary" in p for p in check_haproxy(document, swapped, patroni))
    assert any(
        "feed's front" in p
        for p in check_haproxy(document, cfg.replace("feed2:8082", "feed1:8082"), patroni)
    )
    direct = broken(
        document,
        ("services", "publisher1", "environment", "HERALD_DATABASE_URL"),
        "postgresql://herald@pg1:5432/herald",
    )
    assert any("HAProxy" in p for p in check_haproxy(direct, cfg, patroni))


def test_service_check_catches(document: dict[str, Any]) -> None:
    assert any(
        "fanout2 is missing" in p
        for p in check_services(broken(document, ("services", "fanout2"), None))
    )
    one_broker = broken(
        document, ("services", "push1", "environment", "HERALD_KAFKA_BOOTSTRAP"), "kafka1:9092"
    )
    assert any("three brokers" in p for p in check_services(one_broker))
    read_url = env(document, "feed1")["HERALD_DATABASE_READ_URL"]
    leaky = broken(
        document, ("services", "publisher2", "environment", "HERALD_DATABASE_READ_URL"), read_url
    )
    assert any("anonymous reads only" in p for p in check_services(leaky))


def test_haproxy_accepts_its_config() -> None:
    haproxy = shutil.which("haproxy")
    assert haproxy is not None, "haproxy is missing: the bootstrap installs it"
    result = subprocess.run(
        [haproxy, "-c", "-f", str(HAPROXY_CFG)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr


def test_patroni_accepts_its_config(etcd_stand_in: int, tmp_path: Path) -> None:
    patroni = shutil.which("patroni")
    assert patroni is not None, "patroni is missing: the bootstrap installs it"
    node = {
        "PATRONI_NAME": "pg1",
        "PATRONI_RESTAPI_CONNECT_ADDRESS": "pg1:8008",
        "PATRONI_POSTGRESQL_CONNECT_ADDRESS": "pg1:5432",
        "PATRONI_ETCD3_HOSTS": f"127.0.0.1:{etcd_stand_in}",
    }
    # The caller's own PATRONI_* settings would override the file's: keep them out.
    node |= {k: v for k, v in os.environ.items() if not k.startswith("PATRONI_")}
    result = subprocess.run(
        [patroni, "--validate-config", str(PATRONI_YML)],
        env=node,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The validator itself can fail: a wrong listen address is refused.
    wrong = tmp_path / "patroni.yml"
    wrong.write_text(PATRONI_YML.read_text().replace("listen: 0.0.0.0:5432", "listen: nowhere"))
    refused = subprocess.run(
        [patroni, "--validate-config", str(wrong)],
        env=node,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
