"""One post's trip through the real services, scripted for the observability tests.

An owner creates a channel over the publisher's API, followers follow it over the feed's
API, the first follower holds an SSE stream open, the owner publishes a text post (with
an `X-Request-ID` when given), and the journey waits until the stream received the post
and the second follower's timeline shows it. Also: scraping `/metrics` into numbers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.feed.sse import SseReader, is_post
from tests.support.processes import ServiceProcess
from tests.support.tokens import auth

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(service: ServiceProcess) -> Samples:
    async with httpx.AsyncClient(base_url=service.ops_url, timeout=10.0) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def has_series(samples: Samples, name: str, **labels: str) -> bool:
    wanted = set(labels.items())
    return any(n == name and wanted <= ls for n, ls in samples)


async def eventually(
    probe: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


@dataclass
class Journey:
    owner: str = field(default_factory=lambda: f"owner-{uuid.uuid4().hex[:12]}")
    followers: list[str] = field(
        default_factory=lambda: [f"follower-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    )
    channel_id: str = ""
    post_id: str = ""
    publish_response: httpx.Response | None = None
    timeline_reads: int = 0


async def create_and_follow(
    journey: Journey, publisher: httpx.AsyncClient, feed: httpx.AsyncClient
) -> None:
    handle = f"obs_{uuid.uuid4().hex[:12]}"
    created = await publisher.post(
        "/v1/channels",
        json={
            "handle": handle,
            "name": "Observability",
            "category": "news",
            "country": "fr",
            "language": "fr",
        },
        headers=auth(journey.owner),
    )
    assert created.status_code == 201, created.text
    journey.channel_id = created.json()["channel_id"]
    for follower in journey.followers:
        followed = await feed.put(
            f"/v1/channels/{journey.channel_id}/follow", headers=auth(follower)
        )
        assert followed.status_code == 200, followed.text


async def publish_and_see(
    journey: Journey,
    publisher: httpx.AsyncClient,
    feed: httpx.AsyncClient,
    request_id: str | None = None,
) -> None:
    """Publish with a stream open; return once the stream and a timeline show the post."""
    headers = auth(journey.owner)
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    async with SseReader(feed, auth(journey.followers[0])) as stream:
        assert stream.status == 200
        response = await publisher.post(
            f"/v1/channels/{journey.channel_id}/posts",
            json={"type": "text", "text": "Observed on its way"},
            headers=headers,
        )
        assert response.status_code == 202, response.text
        journey.publish_response = response
        journey.post_id = response.json()["post_id"]
        pushed = await stream.next(lambda e: is_post(e) and e.data["post_id"] == journey.post_id)
        assert pushed.data["body"]["text"] == "Observed on its way"

    async def on_timeline() -> bool:
        journey.timeline_reads += 1
        page = await feed.get("/v1/timeline", headers=auth(journey.followers[1]))
        assert page.status_code == 200, page.text
        return [item["post_id"] for item in page.json()["items"]] == [journey.post_id]

    await eventually(on_timeline, "the post on a follower's timeline")
