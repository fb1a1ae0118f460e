"""The push service process: the planner and the shard sender, with ops endpoints.

`run_service` opens Postgres (its own pool: pushing never takes a connection from the
feed or fan-out), migrates, declares the topics, starts the VAPID-signing `PushSender`
and runs two consumer loops in their own committed groups until `stop` is set:
- planner: `herald.live.v1` in group `herald-push` → `herald.push.v1` (`planner.py`);
- sender: `herald.push.v1` in group `herald-push-send`, up to `shards_in_flight` shards
  at once, each partition's offset committed once its shards were sent (`delivery.py`).
It serves `/healthz`, `/readyz` and `/metrics` on `ops_port`. A loop that dies stops the
process (a half-running push service would silently send nothing). SIGTERM lets each loop
finish the record in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from services.push.config import PushSettings
from services.push.consumer import SERVICE, RecordLoop
from services.push.delivery import ShardSender
from services.push.planner import Planner
from services.push.sender import PushSender
from shared.http.ops import Readiness, create_ops_app, ops_server
from shared.kafka import make_consumer
from shared.push.vapid import load_or_create_private_key
from shared.runtime import Dependencies
from shared.topics import LIVE, PUSH

log = logging.getLogger(__name__)

PLANNER_GROUP = "herald-push"
SENDER_GROUP = "herald-push-send"
LOOP_NAMES = ("planner", "sender")


async def _loop_ready(loops: dict[str, RecordLoop], name: str) -> bool:
    """Whether the consumer loop `name` exists yet and has joined with known positions."""
    loop = loops.get(name)
    return loop is not None and await loop.ready()


async def run_service(settings: PushSettings, stop: asyncio.Event) -> None:
    vapid_key = load_or_create_private_key(
        settings.push_vapid_private_key_file, create=settings.creates_vapid_key()
    )
    readiness = Readiness()
    deps = Dependencies(settings=settings, service=SERVICE, readiness=readiness)
    server = ops_server(create_ops_app(SERVICE, readiness), settings.ops_host, settings.ops_port)
    serving = asyncio.create_task(server.serve())
    sender = PushSender(
        vapid_key=vapid_key,
        contact=settings.push_contact,
        allow_insecure=settings.push_allow_insecure_endpoints,
        per_host_concurrency=settings.per_host_concurrency,
        max_connections=settings.send_concurrency,
    )
    loops: dict[str, RecordLoop] = {}
    # The consumers' readiness checks are registered before anything connects. /readyz
    # answers 200 once every check present passes, and the dependencies add theirs one
    # by one as they come up (Postgres first): checks added only after that could let
    # the process be "ready" before its planner had joined — and a planner group new to
    # the live topic starts at its end, so a post published meanwhile was never pushed.
    for name in LOOP_NAMES:
        readiness.add(f"{name}-consumer", functools.partial(_loop_ready, loops, name))
    try:
        await deps.start()
        await sender.start()
        pool, producer = deps.require_pool(), deps.require_producer()
        live_topic, push_topic = settings.topic(LIVE.name), settings.topic(PUSH.name)
        for loop in (
            RecordLoop(
                settings=settings,
                consumer=make_consumer(
                    settings,
                    [],
                    settings.group(PLANNER_GROUP),
                    max_poll_records=settings.planner_batch,
                    # Pushes are for posts from now on: a new group starts at the end.
                    auto_offset_reset="latest",
                ),
                producer=producer,
                handler=Planner(
                    settings=settings,
                    pool=pool,
                    producer=producer,
                    shard_target=settings.shard_target,
                ),
                name="planner",
                topic=live_topic,
                max_records=settings.planner_batch,
            ),
            RecordLoop(
                settings=settings,
                consumer=make_consumer(
                    settings,
                    [],
                    settings.group(SENDER_GROUP),
                    # Few records prefetched: each shard is up to seconds of work.
                    max_poll_records=settings.shards_in_flight,
                    fetch_max_bytes=64 * 1024,
                    max_partition_fetch_bytes=16 * 1024,
                    # A shard may take long; the group must not evict the member meanwhile.
                    max_poll_interval_ms=600_000,
                ),
                producer=producer,
                handler=ShardSender(
                    pool=pool,
                    sender=sender,
                    page_size=settings.page_size,
                    send_concurrency=settings.send_concurrency,
                ),
                name="sender",
                topic=push_topic,
                max_records=settings.shards_in_flight,
                concurrent=True,
            ),
        ):
            loops[loop.name] = loop
        tasks = [
            asyncio.create_task(loop.run(), name=f"push-{loop.name}") for loop in loops.values()
        ]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({*tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopping and task.exception() is not None:
                log.error("push loop died", exc_info=task.exception())
        for loop in loops.values():
            loop.request_stop()
        stopping.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed and not stop.is_set():
            raise RuntimeError("a push consumer loop stopped") from failed[0]
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        await sender.close()
        await deps.stop()
