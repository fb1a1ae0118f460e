"""deploy/prometheus is valid for the Prometheus we ship against: the config and the alert
rules pass `promtool check`, the alert unit tests (alerts_test.yml) pass, and every metric
an alert names is one Herald exports. promtool missing is a failure: bootstrap installs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml  # type: ignore[import-untyped]

from tests.unit.observability.catalogue import ROOT, known_names, metric_names

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool not found: run `make bootstrap` (Debian: prometheus)"
    return subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_prometheus_config_is_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_are_valid() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_test_and_a_severity() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert {rule["alert"] for rule in alerts} <= tested
    assert all(rule["labels"]["severity"] in {"critical", "warning"} for rule in alerts)


def test_alerts_name_only_metrics_herald_exports() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    known = known_names()
    for group in rules["groups"]:
        for rule in group["rules"]:
            used = metric_names(rule["expr"])
            assert used, f"{rule['alert']}: no metric found in {rule['expr']!r}"
            assert used <= known, f"{rule['alert']} names unknown metrics {used - known}"


def test_scrape_jobs_are_the_six_services() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    # Each service's operations port: publisher, feed and web serve /metrics there only.
    assert targets == {
        "publisher": "publisher:8091",
        "feed": "feed:8092",
        "fanout": "fanout:8083",
        "retention": "retention:8084",
        "push": "push:8085",
        "web": "web:8090",
    }


def test_metric_names_are_picked_out_of_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(herald_x_bucket{route!~"a|b"}'
        "[$__rate_interval]))) > 1 and on (job) up offset 5m or vector(1) / time()"
    )
    assert metric_names(expr) == {"herald_x_bucket", "up"}


def test_retention_alert_waits_two_default_retention_intervals() -> None:
    from services.retention.config import RetentionSettings

    interval = RetentionSettings.model_fields["interval_s"].default
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    (rule,) = [
        rule
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "HeraldRetentionNotRunning"
    ]
    assert rule["expr"].count(f"> {round(2 * interval)}") == 2, rule["expr"]
