"""Logs are JSON lines, a request id follows one post through the services, and no line
names a follower.

The publisher's caller sends `X-Request-ID: <marker>`; the marker is echoed, travels in
the event envelope, and must then appear as `request_id` on the publisher's, the
fan-out's and the feed's lines about that post. No account id of the test (followers,
owner) may appear in any service's log, in any line.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

from tests.integration.observability.journey import (
    Journey,
    create_and_follow,
    eventually,
    publish_and_see,
)
from tests.support.processes import ServiceProcess


def json_lines(service: ServiceProcess) -> list[dict[str, Any]]:
    """The service's log lines that are JSON objects (a crash traceback may not be)."""
    out = []
    for line in service.log_text().splitlines():
        if line.startswith("{"):
            entry = orjson.loads(line)
            if isinstance(entry, dict):
                out.append(entry)
    return out


def with_request_id(service: ServiceProcess, marker: str) -> list[dict[str, Any]]:
    return [entry for entry in json_lines(service) if entry.get("request_id") == marker]


async def test_a_request_id_follows_the_post_and_no_log_names_an_account(
    publisher: ServiceProcess, fanout: ServiceProcess, feed: ServiceProcess
) -> None:
    marker = f"obs-{uuid.uuid4().hex}"
    journey = Journey()
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        await create_and_follow(journey, pub, fd)
        await publish_and_see(journey, pub, fd, request_id=marker)
    assert journey.publish_response is not None
    assert journey.publish_response.headers["x-request-id"] == marker

    services = {"publisher": publisher, "fanout": fanout, "feed": feed}
    expected = {"publisher": "post accepted", "fanout": "post persisted", "feed": "post pushed"}

    async def all_logged() -> bool:
        return all(
            any(e["msg"] == expected[name] for e in with_request_id(s, marker))
            for name, s in services.items()
        )

    await eventually(all_logged, "the marker in every service's log")
    for name, service in services.items():
        lines = [e for e in with_request_id(service, marker) if e["msg"] == expected[name]]
        assert len(lines) == 1, (name, lines)
        entry = lines[0]
        assert entry["service"] == name
        assert entry["post_id"] == journey.post_id
        assert entry["channel_id"] == journey.channel_id
        assert entry["level"] == "info"

    accounts = [journey.owner, *journey.followers]
    for name, service in services.items():
        text = service.log_text()
        leaked = [account for account in accounts if account in text]
        assert not leaked, f"{name} logged account ids {leaked}"
        # Every line the service wrote is structured.
        for raw in text.splitlines():
            if raw.strip():
                assert raw.startswith("{"), f"{name}: not a JSON log line: {raw[:200]}"
