"""Emitting to `herald.live.v1` (key: channel_id) after a transaction committed.

Best effort by design: live events tell connected clients about what is already in
Postgres, and a client that misses one resyncs from Postgres on reconnect. So a failed
send is counted and logged, never retried into a blocked partition. Events of one batch
are sent together and awaited once (bounded by the produce timeout).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from uuid import UUID

from shared.events.envelope import Event
from shared.logs import request_id_var
from shared.metrics.common import KAFKA_PRODUCE_ERRORS, KAFKA_PRODUCE_SECONDS
from shared.metrics.fanout import LIVE_EVENTS
from shared.producer import ProducerHolder
from shared.settings import HeraldSettings
from shared.topics import LIVE

log = logging.getLogger(__name__)


class LiveEmitter:
    def __init__(self, producer: ProducerHolder, settings: HeraldSettings) -> None:
        self.producer = producer
        self.topic = settings.topic(LIVE.name)
        self.timeout_s = settings.produce_timeout_s

    async def emit(self, events: Sequence[tuple[UUID, Event]]) -> None:
        """Send (channel_id, event) pairs; returns when all were acknowledged or failed."""
        if not events:
            return
        # The same produce metrics as `shared.kafka.produce`, which sends one at a time.
        loop = asyncio.get_running_loop()
        started = loop.time()
        acked = KAFKA_PRODUCE_SECONDS.labels(service="fanout", topic=LIVE.name)

        def observe(_: asyncio.Future[object]) -> None:
            acked.observe(loop.time() - started)

        # A producer marked by a fatal error (e.g. after a broker restart) is replaced by the
        # first send; that swap is bounded by the holder's start timeout.
        futures: list[asyncio.Future[object]] = []
        for channel_id, event in events:
            token = request_id_var.set(event.request_id)
            try:
                future = await self.producer.send(
                    self.topic, event.encode(), key=str(channel_id).encode()
                )
                future.add_done_callback(observe)
                futures.append(future)
            finally:
                request_id_var.reset(token)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), self.timeout_s
            )
        except TimeoutError:
            unacked = sum(1 for f in futures if f.cancelled() or f.exception() is not None)
            KAFKA_PRODUCE_ERRORS.labels(service="fanout", topic=LIVE.name).inc(unacked)
            raise
        for (_, event), result in zip(events, results, strict=True):
            outcome = "failed" if isinstance(result, BaseException) else "sent"
            LIVE_EVENTS.labels(type=event.type, outcome=outcome).inc()
            if outcome == "failed":
                KAFKA_PRODUCE_ERRORS.labels(service="fanout", topic=LIVE.name).inc()
                log.warning("live event not sent", extra={"type": event.type, "error": str(result)})
