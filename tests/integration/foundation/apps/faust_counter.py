"""A minimal faust-streaming app (an agent and a table) run as a real worker by
test_faust.py. It counts messages per key and prints each new count."""

from __future__ import annotations

import os
import sys

import faust

NAMESPACE = os.environ["SMOKE_NAMESPACE"]
PARTITIONS = 4

app = faust.App(
    f"{NAMESPACE}.faust-smoke",
    broker=f"kafka://{os.environ['HERALD_KAFKA_BOOTSTRAP']}",
    store="memory://",
    web_enabled=False,
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(
    f"{NAMESPACE}.faust-smoke-src",
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
)
counts = app.Table("counts", default=int, key_type=str, value_type=int, partitions=PARTITIONS)


@app.agent(source)
async def count(stream: faust.StreamT[bytes]) -> None:
    async for key, _value in stream.items():
        name = key.decode()
        counts[name] += 1
        sys.stderr.write(f"COUNT {name} {counts[name]}\n")
        sys.stderr.flush()


if __name__ == "__main__":
    app.main()
