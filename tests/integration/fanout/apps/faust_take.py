"""A faust-streaming agent that batches with `Stream.take()` and fails its first batch, as
when the database write raises. Run by test_faust_take_acks.py."""

from __future__ import annotations

import os
import sys

import faust

NAMESPACE = os.environ["TAKE_NAMESPACE"]

app = faust.App(
    f"{NAMESPACE}.faust-take",
    broker=f"kafka://{os.environ['HERALD_KAFKA_BOOTSTRAP']}",
    store="memory://",
    web_enabled=False,
    topic_partitions=1,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=10.0,
)
source = app.topic(
    f"{NAMESPACE}.faust-take-src",
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=1,
)


@app.agent(source)
async def write(stream: faust.StreamT[bytes]) -> None:
    async for batch in stream.take(100, within=0.5):
        sys.stderr.write(f"BATCH {len(batch)}\n")
        sys.stderr.flush()
        raise ConnectionRefusedError("database unavailable: nothing was written")


if __name__ == "__main__":
    app.main()
