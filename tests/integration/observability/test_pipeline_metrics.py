"""One post published → fanned out → read and pushed moves, in each service's `/metrics`,
exactly the series that describe it, by exactly the expected amounts.

The services are the session's real processes; the journey (journey.py) is the only
traffic on its channel, and every expected delta is either 1 (one post), the number of
followers (feed rows), or the number of requests the test itself made.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.integration.observability.journey import (
    Journey,
    Samples,
    create_and_follow,
    eventually,
    has_series,
    publish_and_see,
    scrape,
    value,
)
from tests.support.processes import ServiceProcess

POSTS = "herald.posts.v1"
LIVE = "herald.live.v1"
INTERACTIONS = "herald.interactions.v1"
PUBLISH_ROUTE = "/v1/channels/{channel_id}/posts"


@dataclass(frozen=True)
class Moved:
    service: str
    name: str
    labels: dict[str, str]
    delta: float


def expected_moves(journey: Journey) -> list[Moved]:
    followers = len(journey.followers)
    reads = journey.timeline_reads
    pub_route = {"service": "publisher", "method": "POST", "route": PUBLISH_ROUTE}
    timeline = {"service": "feed", "method": "GET", "route": "/v1/timeline"}
    stream = {"service": "feed", "method": "GET", "route": "/v1/stream"}
    return [
        # publisher: one post accepted, one request on the route template, one produce.
        Moved("publisher", "herald_publisher_posts_accepted_total", {"type": "text"}, 1),
        Moved("publisher", "herald_http_requests_total", {**pub_route, "status_class": "2xx"}, 1),
        Moved("publisher", "herald_http_request_duration_seconds_count", pub_route, 1),
        Moved(
            "publisher",
            "herald_kafka_produce_duration_seconds_count",
            {"service": "publisher", "topic": POSTS},
            1,
        ),
        Moved(
            "publisher",
            "herald_db_query_duration_seconds_count",
            {"service": "publisher", "operation": "record_accepted_post"},
            1,
        ),
        # fan-out: persisted once, written to every follower, publish → persisted timed.
        Moved("fanout", "herald_fanout_posts_persisted_total", {"kind": "published"}, 1),
        Moved("fanout", "herald_fanout_posts_fanned_total", {"mode": "write"}, 1),
        Moved("fanout", "herald_fanout_feed_rows_written_total", {}, followers),
        Moved("fanout", "herald_fanout_publish_to_persisted_seconds_count", {"topic": POSTS}, 1),
        Moved(
            "fanout",
            "herald_consumer_records_total",
            {"service": "fanout", "topic": POSTS, "outcome": "processed"},
            1,
        ),
        Moved(
            "fanout",
            "herald_consumer_batch_size_records_count",
            {"service": "fanout", "topic": POSTS},
            1,
        ),
        Moved(
            "fanout",
            "herald_db_query_duration_seconds_count",
            {"service": "fanout", "operation": "posts_batch"},
            1,
        ),
        Moved(
            "fanout",
            "herald_fanout_live_events_total",
            {"type": "live.post_visible", "outcome": "sent"},
            1,
        ),
        Moved(
            "fanout",
            "herald_kafka_produce_duration_seconds_count",
            {"service": "fanout", "topic": LIVE},
            1,
        ),
        # feed: pushed once live (timed from publish), timeline read `reads` times.
        Moved("feed", "herald_feed_live_events_total", {"outcome": "dispatched"}, 1),
        Moved("feed", "herald_feed_publish_to_push_seconds_count", {}, 1),
        Moved(
            "feed", "herald_feed_sse_events_pushed_total", {"event": "post", "source": "live"}, 1
        ),
        Moved(
            "feed",
            "herald_db_query_duration_seconds_count",
            {"service": "feed", "operation": "live_post_states"},
            1,
        ),
        Moved("feed", "herald_http_requests_total", {**timeline, "status_class": "2xx"}, reads),
        Moved("feed", "herald_http_request_duration_seconds_count", timeline, reads),
        Moved(
            "feed",
            "herald_db_query_duration_seconds_count",
            {"service": "feed", "operation": "timeline"},
            reads,
        ),
        # The stream is counted when it ends (the test closed it).
        Moved("feed", "herald_http_requests_total", {**stream, "status_class": "2xx"}, 1),
    ]


async def test_one_post_moves_each_services_metrics_by_the_expected_amounts(
    publisher: ServiceProcess, fanout: ServiceProcess, feed: ServiceProcess
) -> None:
    services = {"publisher": publisher, "fanout": fanout, "feed": feed}
    journey = Journey()
    async with (
        httpx.AsyncClient(base_url=publisher.base_url, timeout=20) as pub,
        httpx.AsyncClient(base_url=feed.base_url, timeout=20) as fd,
    ):
        await create_and_follow(journey, pub, fd)
        before = {name: await scrape(s) for name, s in services.items()}
        await publish_and_see(journey, pub, fd)

    moves = expected_moves(journey)
    after: dict[str, Samples] = {}

    def delta(m: Moved) -> float:
        return value(after[m.service], m.name, **m.labels) - value(
            before[m.service], m.name, **m.labels
        )

    async def all_moved() -> bool:
        # Some counters move just after the push the test saw (the stream's request is
        # counted when it closes; the fan-out counts a live send once acknowledged).
        for name, service in services.items():
            after[name] = await scrape(service)
        return all(delta(m) >= m.delta for m in moves) and (
            value(after["feed"], "herald_feed_sse_connections")
            == value(before["feed"], "herald_feed_sse_connections")
        )

    await eventually(all_moved, "every expected metric to move", timeout_s=20)
    wrong = [
        f"{m.service}: {m.name}{m.labels} moved {delta(m)}, expected {m.delta}"
        for m in moves
        if delta(m) != m.delta
    ]
    assert not wrong, "\n".join(wrong)

    # Gauges kept by scrape hooks and background refreshes, present in every service.
    for name in services:
        for state in ("in_use", "idle"):
            assert has_series(after[name], "herald_db_pool_connections", state=state), name
    for topic in (POSTS, INTERACTIONS):
        assert has_series(
            after["fanout"], "herald_consumer_lag_records", service="fanout", topic=topic
        ), topic
    assert has_series(after["feed"], "herald_consumer_lag_records", service="feed", topic=LIVE)

    async def caught_up() -> bool:
        lag = value(await scrape(fanout), "herald_consumer_lag_records", topic=POSTS)
        return lag == 0

    # The lag gauge is refreshed from the broker's end offsets, so it settles at 0 once
    # the post is processed without waiting for another commit.
    await eventually(caught_up, "the fan-out's posts lag to read 0", timeout_s=15)
