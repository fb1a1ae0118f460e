"""docker-compose.yml and the Dockerfiles describe the system the local stack runs.

`docker compose config` validates the file where the Compose CLI is installed (no engine
needed); the structure checks below run everywhere on the parsed YAML: every service with
its role, port, health check and settings (named as in .env.example), Prometheus scraping
what compose runs, Grafana provisioned from deploy/grafana, Postgres with hll."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.unit.observability.catalogue import ROOT

COMPOSE = ROOT / "docker-compose.yml"
HERALD = {
    "publisher": 8081,
    "feed": 8082,
    "fanout": 8083,
    "retention": 8084,
    "push": 8085,
    "web": 8080,
}
PORT_VARS = {
    "publisher": "HERALD_PUBLISHER_PORT",
    "feed": "HERALD_FEED_PORT",
    "fanout": "HERALD_FANOUT_OPS_PORT",
    "retention": "HERALD_RETENTION_OPS_PORT",
    "push": "HERALD_PUSH_OPS_PORT",
    "web": "HERALD_WEB_PORT",
}
# Where each service serves /metrics: the HTTP services on a port of its own, the others on
# their one (operations) port.
METRICS_PORT_VARS = PORT_VARS | {
    "publisher": "HERALD_PUBLISHER_OPS_PORT",
    "feed": "HERALD_FEED_OPS_PORT",
    "web": "HERALD_WEB_OPS_PORT",
}
# Web calls the publisher and feed over HTTP and owns one table: it needs no broker.
DEPENDENCIES = {name: ("kafka", "postgres") for name in HERALD} | {
    "web": ("postgres", "publisher", "feed")
}
REQUIRED_ENV = {
    "HERALD_KAFKA_BOOTSTRAP",
    "HERALD_DATABASE_URL",
    "HERALD_JWT_SECRET",
    "HERALD_ENVIRONMENT",
    "HERALD_MEDIA_DIR",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, timeout=30, check=False
    )
    return [docker, "compose"] if probe.returncode == 0 else None


def test_compose_file_is_valid() -> None:
    cli = compose_cli()
    if cli is not None:
        result = subprocess.run(
            [*cli, "-f", str(COMPOSE), "config", "--quiet"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    # What `config` also checks, for machines without the Compose CLI.
    document = compose()
    declared = set(document["volumes"])
    for name, service in document["services"].items():
        assert ("image" in service) or ("build" in service), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
        for dependency in service.get("depends_on", []):
            assert dependency in document["services"], f"{name} depends on {dependency}"


def test_the_whole_system_is_composed() -> None:
    assert set(services()) == {*HERALD, "kafka", "postgres", "prometheus", "grafana"}


def test_each_herald_service_runs_its_role_from_one_image() -> None:
    found = services()
    images = {found[name]["image"] for name in HERALD}
    assert len(images) == 1
    for name, port in HERALD.items():
        service = found[name]
        assert service["build"] == "."
        assert service["command"] == ["python", "-m", f"services.{name}"]
        env = service["environment"]
        assert env.keys() >= REQUIRED_ENV, f"{name} lacks {REQUIRED_ENV - env.keys()}"
        assert env[PORT_VARS[name]] == str(port)
        # A service run as several replicas publishes a host port range onto its one port.
        published = [mapping.rsplit(":", 1) for mapping in service["ports"]]
        assert any(
            container == str(port) and host.split(":")[1].split("-")[0] == str(port)
            for host, container in published
        ), service["ports"]
        assert f"127.0.0.1:{port}/healthz" in " ".join(service["healthcheck"]["test"])
        for dependency in DEPENDENCIES[name]:
            assert service["depends_on"][dependency]["condition"] == "service_healthy"


def test_media_is_shared_by_publisher_feed_and_retention() -> None:
    found = services()
    for name in ("publisher", "feed", "retention"):
        mounts = found[name]["volumes"]
        assert f"media:{found[name]['environment']['HERALD_MEDIA_DIR']}" in mounts, name


def test_settings_use_the_names_of_env_example() -> None:
    documented = set(re.findall(r"^(HERALD_\w+)=", (ROOT / ".env.example").read_text(), re.M))
    for name in HERALD:
        used = {key for key in services()[name]["environment"] if key.startswith("HERALD_")}
        assert used <= documented, f"{name} sets undocumented {used - documented}"


def test_prometheus_scrapes_what_compose_runs() -> None:
    found = services()
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.split(":")
                assert found[host]["environment"][METRICS_PORT_VARS[host]] == port, target
    assert "./deploy/prometheus:/etc/prometheus:ro" in found["prometheus"]["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in found["prometheus"]["command"]


def test_grafana_is_provisioned_from_the_repository() -> None:
    mounts = services()["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/herald.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts


def test_kafka_is_single_node_kraft_and_postgres_has_hll() -> None:
    found = services()
    kafka = found["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    build = found["postgres"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
    assert re.search(r"^FROM postgres:15\b", dockerfile, re.M)
    assert "postgresql-15-hll" in dockerfile


def test_dockerfile_installs_herald_on_python_311_slim() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    for name in HERALD:
        for var in {PORT_VARS[name], METRICS_PORT_VARS[name]}:
            host_var = var.replace("_PORT", "_HOST")
            assert f"{host_var}=0.0.0.0" in dockerfile, f"{name} would listen on loopback only"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".local"} <= set(ignored)
