"""deploy/local/prometheus.py runs the real Prometheus: it scrapes a running service,
loads Herald's alert rules, answers a query about the scraped series, and stops."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx

from deploy.local import prometheus
from deploy.local.stack import pid_alive
from tests.support.processes import ServiceProcess, free_port

SCRAPED_TIMEOUT_S = 30.0


async def query(client: httpx.AsyncClient, promql: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/query", params={"query": promql})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def poll(client: httpx.AsyncClient, promql: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + SCRAPED_TIMEOUT_S
    while time.monotonic() < deadline:
        result = await query(client, promql)
        if result:
            return result
        await asyncio.sleep(0.5)
    raise AssertionError(f"no series for {promql!r} within {SCRAPED_TIMEOUT_S}s")


async def test_local_prometheus_scrapes_a_service_and_answers_queries(
    publisher: ServiceProcess, tmp_path: Path
) -> None:
    assert prometheus.binary() is not None, "prometheus not found: run `make bootstrap`"
    instance = prometheus.LocalPrometheus(home=tmp_path / "prometheus", port=free_port())
    # Its operations port: the publisher serves /metrics there only.
    targets = {"publisher": publisher.ops_port}
    url = await asyncio.to_thread(prometheus.start, targets, instance, "1s")
    try:
        pid = pid_alive(instance.pid)
        assert pid is not None
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as client:
            up = await poll(client, 'up{job="publisher"} == 1')
            assert up[0]["metric"]["instance"] == f"127.0.0.1:{publisher.ops_port}"
            info = await poll(client, 'herald_build_info{job="publisher"}')
            assert info[0]["metric"]["service"] == "publisher"
            rules = (await client.get("/api/v1/rules")).json()["data"]["groups"]
            alerts = {rule["name"] for group in rules for rule in group["rules"]}
            assert {"HeraldServiceDown", "HeraldConsumerLagGrowing"} <= alerts
    finally:
        await asyncio.to_thread(prometheus.stop, instance)
    assert pid_alive(instance.pid) is None
    assert not instance.pid.exists()
    try:
        os.kill(pid, 0)
        raise AssertionError(f"prometheus (pid {pid}) still runs after stop")
    except ProcessLookupError:
        pass
