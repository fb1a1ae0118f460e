"""faust-streaming on the local broker: an agent with a table, its changelog topic, and
the table's state recovered from the changelog after a worker restart."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.stack import StackSlice

APP = "tests.integration.foundation.apps.faust_counter"
ROOT = Path(__file__).resolve().parents[3]


def _worker(stack: StackSlice, log: Path) -> subprocess.Popen[bytes]:
    env = stack.env(SMOKE_NAMESPACE=stack.namespace)
    return subprocess.Popen(
        [sys.executable, "-m", APP, "worker", "-l", "warn"],
        env=env,
        cwd=ROOT,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def _wait_for_line(log: Path, line: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if line in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{line!r} not seen; log tail:\n{log.read_text()[-3000:]}")


async def _send(stack: StackSlice, topic: str, key: bytes, n: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for _ in range(n):
            await producer.send_and_wait(topic, b"x", key=key)
    finally:
        await producer.stop()


async def test_faust_table_survives_worker_restart(stack: StackSlice, tmp_path: Path) -> None:
    source = f"{stack.namespace}.faust-smoke-src"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(source, 4, 1)])
    finally:
        await admin.close()

    log = tmp_path / "worker.log"
    worker = _worker(stack, log)
    try:
        await _send(stack, source, b"alpha", 3)
        await _wait_for_line(log, "COUNT alpha 3")
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        topics = await admin.list_topics()
    finally:
        await admin.close()
    assert f"{stack.namespace}.faust-smoke-counts-changelog" in topics

    # A new worker starts with an empty in-memory store: the count can only continue from
    # 3 if the table was recovered from its changelog.
    worker = _worker(stack, log)
    try:
        await _send(stack, source, b"alpha", 1)
        await _wait_for_line(log, "COUNT alpha 4")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
