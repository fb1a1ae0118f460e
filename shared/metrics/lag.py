"""Consumer lag kept current: `herald_consumer_lag_records` per assigned partition.

lag = the broker's end offset - the first offset not yet processed. That first offset is
the start of the batch in hand when the caller says so (`pending`: a consumer that
commits after writing has not processed a batch it is still retrying), else the
consumer's position. A task of its own refreshes it every `interval_s` by asking the
broker (ListOffsets), so the gauge moves while the consumer is idle, paused by a retry
or stuck in a long batch, not only when it commits. Partitions no longer assigned (a
rebalance gave them to another instance) are removed, so two instances never both
report the same partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from shared.metrics.common import CONSUMER_LAG

log = logging.getLogger(__name__)

# Each broker call of a refresh is bounded; a broker outage skips refreshes, no more.
CALL_TIMEOUT_S = 5.0


class LagTracker:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        *,
        service: str,
        topic: str,
        interval_s: float = 5.0,
        pending: Callable[[TopicPartition], int | None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.service = service
        self.topic = topic  # the declared base name: a bounded label
        self.interval_s = interval_s
        self.pending = pending
        self._reported: set[int] = set()

    async def refresh(self) -> None:
        assigned = set(self.consumer.assignment())
        for partition in self._reported - {tp.partition for tp in assigned}:
            CONSUMER_LAG.remove(self.service, self.topic, str(partition))
            self._reported.discard(partition)
        if not assigned:
            return
        ends = await asyncio.wait_for(self.consumer.end_offsets(list(assigned)), CALL_TIMEOUT_S)
        for tp in assigned:
            start = self.pending(tp) if self.pending is not None else None
            if start is None:
                start = await asyncio.wait_for(self.consumer.position(tp), CALL_TIMEOUT_S)
            end = ends.get(tp)
            if end is None:
                continue
            CONSUMER_LAG.labels(self.service, self.topic, str(tp.partition)).set(
                max(0, end - start)
            )
            self._reported.add(tp.partition)

    async def run(self) -> None:
        """Refresh until cancelled; a failed refresh is skipped, the next one retries."""
        while True:
            try:
                await self.refresh()
            except (KafkaError, TimeoutError, OSError) as exc:
                log.debug("consumer lag refresh failed", extra={"error": str(exc)})
            await asyncio.sleep(self.interval_s)
