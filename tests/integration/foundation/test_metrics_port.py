"""`/metrics` of the HTTP services is on their operations port only (issue 19, item 5):
anyone reaching the feed's public port could otherwise read from live delivery counters
whether a channel's followers are online. The public port still answers `/healthz` and
`/readyz` (a load balancer checks them there), and so does the operations port. An
operations port that cannot be bound fails the start instead of leaving metrics unserved.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ServiceProcess


def _build_services(text: str) -> set[str]:
    return {
        sample.labels["service"]
        for family in text_string_to_metric_families(text)
        if family.name == "herald_build_info"
        for sample in family.samples
    }


@pytest.mark.parametrize("name", ["publisher", "feed"])
async def test_metrics_only_on_the_ops_port_and_health_on_both(
    name: str, publisher: ServiceProcess, feed: ServiceProcess
) -> None:
    process = {"publisher": publisher, "feed": feed}[name]
    assert process.ops_port != process.port
    async with httpx.AsyncClient(timeout=10) as http:
        public = await http.get(f"{process.base_url}/metrics")
        assert public.status_code == 404
        assert public.headers["content-type"] == "application/problem+json"
        assert "herald_" not in public.text
        ops = await http.get(f"{process.ops_url}/metrics")
        assert ops.status_code == 200
        assert _build_services(ops.text) == {name}
        for base in (process.base_url, process.ops_url):
            assert (await http.get(f"{base}/healthz")).json() == {"status": "ok"}
            ready = await http.get(f"{base}/readyz")
            assert ready.status_code == 200, (base, ready.text)
            assert ready.json()["checks"] == {"postgres": True, "kafka": True}


async def test_the_ops_port_serves_no_api(publisher: ServiceProcess) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{publisher.ops_url}/openapi.json")).status_code == 404
        assert (await http.get(f"{publisher.ops_url}/v1/channels/x")).status_code == 404


async def test_a_taken_ops_port_fails_the_start(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = spawn_service("publisher")
        process.env["HERALD_PUBLISHER_OPS_PORT"] = str(taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="exited"):
            await process.start(timeout_s=60)
        assert process.proc is not None and process.proc.returncode != 0
