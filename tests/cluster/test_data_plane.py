"""The cluster's data plane keeps what it acknowledged when a node dies: a row committed
through HAProxy's primary port is on the promoted node, a record produced with
`acks=all` is on the new partition leader, and the killed node comes back into the
cluster. Each fault test first proves the fault happened (dead pid, new leader)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.cluster.dataplane import DataPlane
from deploy.local.stack import process_running

# Bounds on waits for the system to settle, never asserted durations.
SETTLE_S = 60.0


async def connect(url: str, timeout_s: float = SETTLE_S) -> asyncpg.Connection:
    """A connection through HAProxy, retried while it still routes to no healthy node."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await asyncpg.connect(url, timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def server_port(url: str) -> int:
    conn = await connect(url)
    try:
        return int(await conn.fetchval("SELECT inet_server_port()"))
    finally:
        await conn.close()


async def eventually_port(url: str, port: int) -> int:
    """The server port `url` reaches, once it is `port` (or the last one seen)."""
    deadline = time.monotonic() + SETTLE_S
    seen = await server_port(url)
    while seen != port and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        seen = await server_port(url)
    return seen


async def holds(conn: asyncpg.Connection, table: str, token: str) -> bool:
    return bool(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE token = $1", token))


@pytest.fixture
async def probe_table(data_plane: DataPlane) -> AsyncIterator[str]:
    table = f"dataplane_probe_{uuid.uuid4().hex[:10]}"
    conn = await connect(data_plane.layout.database_url)
    await conn.execute(f"CREATE TABLE {table} (token text PRIMARY KEY)")
    await conn.close()
    yield table
    conn = await connect(data_plane.layout.database_url)
    await conn.execute(f"DROP TABLE IF EXISTS {table}")
    await conn.close()


async def test_status_names_who_leads(data_plane: DataPlane) -> None:
    status = await asyncio.to_thread(data_plane.status)
    assert status.kafka_controller_leader in (1, 2, 3)
    assert all(pid is not None for pid in status.brokers.values())
    roles = sorted(node.role for node in status.pg.values())
    assert roles == ["leader", "sync_standby"]
    assert status.etcd_pid is not None and status.haproxy_pid is not None
    text = status.format()
    assert f"kafka quorum leader: broker {status.kafka_controller_leader}" in text
    assert f"postgres leader: {status.pg_leader}" in text


async def test_herald_role_can_migrate_its_database(data_plane: DataPlane) -> None:
    conn = await connect(data_plane.layout.database_url)
    try:
        assert await conn.fetchval("SELECT current_user") == "herald"
        assert (
            await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = 'herald'") is False
        )
        # What the first migration does; the extension is there already, so no superuser.
        await conn.execute("CREATE EXTENSION IF NOT EXISTS hll")
        assert await conn.fetchval("SELECT hll_cardinality(hll_add_agg(hll_hash_integer(7)))") == 1
    finally:
        await conn.close()


async def test_a_committed_row_survives_the_primary_being_killed(
    data_plane: DataPlane, probe_table: str
) -> None:
    layout = data_plane.layout
    old = await asyncio.to_thread(data_plane.pg_leader)
    assert await server_port(layout.database_url) == layout.pg_port(old)
    before = uuid.uuid4().hex
    conn = await connect(layout.database_url)
    await conn.execute(f"INSERT INTO {probe_table} VALUES ($1)", before)  # acknowledged
    await conn.close()

    node, postmaster, agent = await asyncio.to_thread(data_plane.kill_pg_primary)
    assert node == old
    assert not process_running(postmaster) and not process_running(agent)
    new = await asyncio.to_thread(data_plane.wait_pg_leader, SETTLE_S, old)
    assert new != old

    # The primary port now reaches the promoted node, which has the row and takes writes.
    assert await eventually_port(layout.database_url, layout.pg_port(new)) == layout.pg_port(new)
    after = uuid.uuid4().hex
    conn = await connect(layout.database_url)
    try:
        assert (
            await conn.fetchval(f"SELECT count(*) FROM {probe_table} WHERE token = $1", before) == 1
        )
        await conn.execute(f"INSERT INTO {probe_table} VALUES ($1)", after)
    finally:
        await conn.close()
    # With its replica gone the replica port still serves reads (from the leader).
    conn = await connect(layout.database_read_url)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {probe_table}") == 2
    finally:
        await conn.close()

    # The old primary comes back as the synchronous standby and serves reads again,
    # the row written while it was down included.
    await asyncio.to_thread(data_plane.start_pg_node, old)
    status = await asyncio.to_thread(data_plane.status)
    assert status.pg[old].role == "sync_standby"
    assert status.pg[old].postmaster_pid not in (None, postmaster)
    read_port = await eventually_port(layout.database_read_url, layout.pg_port(old))
    assert read_port == layout.pg_port(old)
    conn = await connect(layout.database_read_url)
    try:
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is True
        assert (
            await conn.fetchval(f"SELECT count(*) FROM {probe_table} WHERE token = $1", after) == 1
        )
    finally:
        await conn.close()


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = SETTLE_S) -> None:
    """Poll `check` until it holds or `timeout_s` passed (the caller asserts afterwards)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.5)


async def test_an_acks_all_record_survives_its_leader_broker_being_killed(
    data_plane: DataPlane,
) -> None:
    layout = data_plane.layout
    topic = f"dataplane-probe-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=layout.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])
    finally:
        await admin.close()

    async def all_led() -> bool:
        try:
            return all(b > 0 for b in (await data_plane.partition_leaders(topic)).values())
        except KeyError:
            return False

    await wait_for(all_led)
    victim = (await data_plane.partition_leaders(topic))[0]
    killed = await asyncio.to_thread(data_plane.kill_broker, victim)
    assert not process_running(killed)
    assert data_plane.broker_pid(victim) is None

    producer = AIOKafkaProducer(
        bootstrap_servers=layout.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"kept", partition=0)
    finally:
        await producer.stop()
    leader = (await data_plane.partition_leaders(topic))[0]
    assert leader not in (victim, -1)

    consumer = AIOKafkaConsumer(bootstrap_servers=layout.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = await asyncio.wait_for(consumer.getone(), SETTLE_S)
        assert record.value == b"kept"
    finally:
        await consumer.stop()

    await asyncio.to_thread(data_plane.start_broker, victim)
    assert data_plane.broker_pid(victim) not in (None, killed)

    async def back_in_sync() -> bool:
        return all(victim in isr for isr in (await data_plane.in_sync_replicas(topic)).values())

    await wait_for(back_in_sync)
    assert all(victim in isr for isr in (await data_plane.in_sync_replicas(topic)).values())

    admin = AIOKafkaAdminClient(bootstrap_servers=layout.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()
