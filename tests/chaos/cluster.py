"""The system under chaos: one real process of each service on a stack slice of its own,
which the suite may kill, pause and restart, and the fan-out's consumer lag.

Each service keeps its port across restarts, so clients only see refused connections
while it is down. Rate limits are raised: the driver is a handful of busy accounts, and a
429 would only add noise to what the suite measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.support.processes import ServiceProcess
from tests.support.stack import StackSlice

SERVICES = ("publisher", "fanout", "feed", "retention")
# Channels with more active followers than this are merged at read time.
WRITE_MAX_FOLLOWERS = 5
# Fan-out's two consumer groups (base names) and the topics they read.
FANOUT_GROUPS = {
    "herald-fanout-posts": "herald.posts.v1",
    "herald-fanout-interactions": "herald.interactions.v1",
}

SERVICE_ENV = {
    "HERALD_FANOUT_WRITE_MAX_FOLLOWERS": str(WRITE_MAX_FOLLOWERS),
    "HERALD_FANOUT_RETRY_MAX_S": "1.0",
    "HERALD_FANOUT_STATS_FLUSH_INTERVAL_S": "2.0",
    "HERALD_FANOUT_RECONCILE_INTERVAL_S": "2.0",
    "HERALD_RETENTION_INTERVAL_S": "2.0",
    "HERALD_RATE_PER_SECOND": "1000",
    "HERALD_RATE_BURST": "2000",
    "HERALD_LOG_LEVEL": "WARNING",
}


@dataclass
class Cluster:
    stack: StackSlice
    log_dir: Path
    procs: dict[str, ServiceProcess] = field(default_factory=dict)

    async def start(self) -> None:
        for name in SERVICES:
            self.procs[name] = ServiceProcess(name, self.stack.env(**SERVICE_ENV), self.log_dir)
        await asyncio.gather(*(p.start(timeout_s=120) for p in self.procs.values()))

    def url(self, name: str) -> str:
        return self.procs[name].base_url

    def kill(self, name: str) -> None:
        self.procs[name].kill()

    def pid(self, name: str) -> int:
        proc = self.procs[name].proc
        assert proc is not None, f"{name} was never started"
        return proc.pid

    def returncode(self, name: str) -> int | None:
        """How the current process of `name` ended (-9: SIGKILL), None while it runs."""
        proc = self.procs[name].proc
        return None if proc is None else proc.poll()

    async def restart(self, name: str) -> None:
        """Start a killed service again on the same port; wait until it is ready."""
        proc = self.procs[name]
        proc.kill()
        await proc.start(timeout_s=120)

    def pause(self, name: str) -> None:
        self.procs[name].signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.procs[name].signal(signal.SIGCONT)

    async def wait_all_ready(self, timeout_s: float = 120.0) -> None:
        await asyncio.gather(*(p.wait_ready(timeout_s) for p in self.procs.values()))

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, AssertionError):
                proc.signal(signal.SIGCONT)
            proc.stop()


class LagProbe:
    """Records the fan-out groups have not committed yet: end offsets minus committed ones
    (a partition without a commit counts from its log start). Clients are recreated after
    an error, so the probe outlives a broker restart."""

    def __init__(self, stack: StackSlice) -> None:
        self.stack = stack
        self.admin: AIOKafkaAdminClient | None = None
        self.consumer: AIOKafkaConsumer | None = None
        # The last measurement, and why the last failed one failed (for a trial's report).
        self.last: int | None = None
        self.last_error = ""
        # Which partitions were behind at the last measurement, and by how much.
        self.where: list[str] = []
        # Whether the last measurement found committed everything the log held at the one
        # before it (None: there was no such pair of measurements).
        self.caught_up: bool | None = None
        self._previous_ends: dict[TopicPartition, int] = {}

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self.admin is None or self.consumer is None:
            await self.close()
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.stack.kafka_bootstrap, request_timeout_ms=5000
            )
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.stack.kafka_bootstrap, request_timeout_ms=5000
            )
            await admin.start()
            await consumer.start()
            self.admin, self.consumer = admin, consumer
        return self.admin, self.consumer

    async def lag(self) -> int | None:
        """Total lag of fan-out's groups, or None when the broker does not answer or the
        topics' partitions are not known (nothing was measured)."""
        try:
            self.last = await asyncio.wait_for(self._lag(), timeout=10)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:200]
            await self.close()
            self.last = self.caught_up = None
            self._previous_ends = {}
        return self.last

    async def _lag(self) -> int:
        admin, consumer = await self._clients()
        total = 0
        where: list[str] = []
        all_ends: dict[TopicPartition, int] = {}
        caught_up = bool(self._previous_ends)
        for group, topic in FANOUT_GROUPS.items():
            name = self.stack.topic(topic)
            # Asked of the broker each time (the consumer's own metadata cache never holds
            # a topic it is not subscribed to).
            described = await admin.describe_topics([name])
            tps = [
                TopicPartition(name, p["partition"])
                for entry in described
                if entry["topic"] == name
                for p in entry["partitions"]
            ]
            if not tps:
                # No partitions is no measurement: a lag of 0 here would pass for recovery.
                raise LookupError(f"no partitions known for {name}")
            committed = await admin.list_consumer_group_offsets(self.stack.namespace + "." + group)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            for tp in tps:
                done = committed.get(tp)
                base = done.offset if done is not None and done.offset >= 0 else starts[tp]
                behind = max(0, ends[tp] - base)
                all_ends[tp] = ends[tp]
                caught_up = caught_up and base >= self._previous_ends.get(tp, 0)
                total += behind
                if behind:
                    uncommitted = "" if done is not None and done.offset >= 0 else " (no commit)"
                    where.append(f"{topic}[{tp.partition}] {behind}{uncommitted}")
        self.where = where
        self.caught_up = caught_up if self._previous_ends else None
        self._previous_ends = all_ends
        return total

    async def close(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
        if self.admin is not None:
            with contextlib.suppress(Exception):
                await self.admin.close()
        self.admin = self.consumer = None
