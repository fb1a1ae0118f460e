"""Why the fan-out batches with aiokafka rather than faust's `Stream.take()`.

faust-streaming 0.15.3 acks a `take()` batch in a `finally` after the `yield`, so a batch
whose processing is interrupted (the database write raises, the agent is cancelled) is
acked and its offsets committed although nothing was written: those messages are never
seen again. This test reproduces it on the real broker; it documents the defect
and fails once faust stops committing unprocessed batches.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.stack import StackSlice

APP = "tests.integration.fanout.apps.faust_take"
ROOT = Path(__file__).resolve().parents[3]


def _worker(stack: StackSlice, namespace: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", APP, "worker", "-l", "warn"],
        env=stack.env(TAKE_NAMESPACE=namespace),
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_faust_take_commits_a_batch_that_was_never_processed(
    stack: StackSlice, tmp_path: Path
) -> None:
    namespace = f"{stack.namespace}-take"
    source = f"{namespace}.faust-take-src"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(source, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(source, b"post %d" % i, key=b"k")
    finally:
        await producer.stop()

    log = tmp_path / "take.log"
    worker = _worker(stack, namespace, log)
    try:
        deadline = time.monotonic() + 60
        while "BATCH 5" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.3)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.kafka_bootstrap, group_id=f"{namespace}.faust-take"
        )
        await consumer.start()
        try:
            committed = None
            while committed != 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                committed = await consumer.committed(TopicPartition(source, 0))
        finally:
            await consumer.stop()
    finally:
        worker.kill()
        worker.wait(timeout=10)
    # The defect: all five offsets committed, none of the five messages written.
    assert committed == 5
