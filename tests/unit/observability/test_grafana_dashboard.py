"""The provisioned Grafana dashboard loads, queries the provisioned datasource, and every
panel query is valid PromQL (checked by promtool) naming only metrics Herald exports or
Prometheus built-ins — so renaming a metric in shared/metrics breaks this test, not the
operator's dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from tests.unit.observability.catalogue import ROOT, known_names, metric_names

GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "herald-pipeline.json"
# Grafana's range variables, replaced by a fixed range before promtool parses a query.
GRAFANA_RANGES = re.compile(r"\$__(rate_interval|interval|range)\b")


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], t) for panel in dashboard["panels"] for t in panel["targets"]]


def datasource_uid() -> str:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    (datasource,) = config["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    return str(datasource["uid"])


def test_dashboard_shows_the_pipeline() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "herald-pipeline"
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert len(titles) == len(set(titles)), "panel titles must be unique"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    used = set().union(*(metric_names(t["expr"]) for _, t in targets(dashboard)))
    for needed in (
        "herald_publisher_posts_accepted_total",
        "herald_fanout_feed_rows_written_total",
        "herald_consumer_lag_records",
        "herald_fanout_publish_to_persisted_seconds_bucket",
        "herald_http_request_duration_seconds_bucket",
        "herald_feed_sse_connections",
        "herald_retention_last_success_timestamp_seconds",
        "herald_dlq_messages_total",
    ):
        assert needed in used, f"the dashboard shows nothing of {needed}"


def test_panels_query_the_provisioned_datasource() -> None:
    uid = datasource_uid()
    dashboard = load_dashboard()
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == uid


def test_panel_queries_name_only_exported_metrics() -> None:
    known = known_names()
    for title, target in targets(load_dashboard()):
        used = metric_names(target["expr"])
        assert used, f"{title}: no metric in {target['expr']!r}"
        assert used <= known, f"{title} names metrics nobody exports: {sorted(used - known)}"


def test_panel_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool not found: run `make bootstrap` (Debian: prometheus)"
    rules = [
        {"record": f"dashboard:panel_{i}", "expr": GRAFANA_RANGES.sub("5m", target["expr"])}
        for i, (_, target) in enumerate(targets(load_dashboard()))
    ]
    rule_file = tmp_path / "dashboard_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboards_provider_points_at_the_mounted_folder() -> None:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/herald.yml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
