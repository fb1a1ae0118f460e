"""Every service's `/metrics` is valid Prometheus text that `promtool check metrics`
accepts, and no series carries a per-user, per-post or per-channel label (DESIGN: hard
rules). Before scraping, the HTTP services get requests whose paths hold ids, so a raw
path leaking into the `route` label would show up as an id-shaped label value."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

# Label names that could only hold an identity or an entity id.
FORBIDDEN_LABELS = frozenset(
    {
        "account",
        "account_id",
        "user",
        "user_id",
        "sub",
        "subject",
        "follower",
        "follower_id",
        "admin",
        "admin_id",
        "channel",
        "channel_id",
        "handle",
        "post",
        "post_id",
        "media_id",
        "event_id",
        "request_id",
        "ip",
        "path",
    }
)
# A UUID (any version) or a bare 32-hex id, anywhere in a label value.
ID_SHAPED = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


async def scrape(service: ServiceProcess) -> str:
    async with httpx.AsyncClient(base_url=service.ops_url, timeout=10.0) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def touch_id_paths(service: ServiceProcess, paths: list[str]) -> None:
    """Requests a client could send, with real-looking ids in the path (any status)."""
    async with httpx.AsyncClient(base_url=service.base_url, timeout=10.0) as client:
        for path in paths:
            await client.get(path, headers=auth(f"acct-{uuid.uuid4()}"))


def assert_valid_and_private(text: str, service: str) -> None:
    families = list(text_string_to_metric_families(text))
    names = {family.name for family in families}
    assert "herald_build_info" in names, f"{service}: herald_build_info missing"
    for family in families:
        for sample in family.samples:
            bad = FORBIDDEN_LABELS & set(sample.labels)
            assert not bad, f"{service}: {sample.name} has per-entity labels {bad}"
            for label, value in sample.labels.items():
                assert not ID_SHAPED.search(value), (
                    f"{service}: {sample.name}{{{label}={value!r}}} carries an id"
                )
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool not found: run `make bootstrap` (Debian: prometheus)"
    lint = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert lint.returncode == 0, f"{service}: promtool check metrics:\n{lint.stdout}{lint.stderr}"


async def test_publisher_metrics_are_valid_and_private(publisher: ServiceProcess) -> None:
    channel, post = uuid.uuid4(), uuid.uuid4()
    await touch_id_paths(
        publisher,
        [f"/v1/channels/{channel}", f"/v1/channels/{channel}/posts/{post}", f"/nope/{post}"],
    )
    assert_valid_and_private(await scrape(publisher), "publisher")


async def test_feed_metrics_are_valid_and_private(feed: ServiceProcess) -> None:
    channel, post = uuid.uuid4(), uuid.uuid4()
    await touch_id_paths(
        feed,
        [f"/v1/channels/{channel}", f"/v1/channels/{channel}/posts", f"/v1/media/{post}"],
    )
    assert_valid_and_private(await scrape(feed), "feed")


async def test_fanout_metrics_are_valid_and_private(fanout: ServiceProcess) -> None:
    assert_valid_and_private(await scrape(fanout), "fanout")


async def test_retention_metrics_are_valid_and_private(
    spawn_service: Callable[..., ServiceProcess],
) -> None:
    retention = await spawn_service("retention").start()
    assert_valid_and_private(await scrape(retention), "retention")
