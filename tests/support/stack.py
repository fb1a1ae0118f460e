"""An isolated slice of the local stack for one test session.

Each session gets its own Postgres database (migrated) and its own topic namespace on the
shared broker, so parallel runs and leftovers of earlier runs never meet. Both are
removed at the end of the session.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from shared.db.migrate import migrate
from shared.settings import DEV_JWT_SECRET, HeraldSettings
from shared.topics import ensure_topics

DEFAULT_KAFKA = "127.0.0.1:19092"
DEFAULT_DATABASE_URL = "postgresql://herald@127.0.0.1:15432/herald"
# The master key of test sessions (not the development placeholder, so tests exercise a
# configured key): 32 fixed bytes, base64url.
TEST_CONTENT_MASTER_KEY = "test-1:dGVzdC1tYXN0ZXIta2V5LW9mLWhlcmFsZC10ZXN0cyE"


@dataclass(frozen=True)
class StackSlice:
    namespace: str
    database_url: str
    admin_database_url: str
    kafka_bootstrap: str
    media_dir: str

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a service process of this session."""
        return {
            **os.environ,
            "HERALD_ENVIRONMENT": "test",
            "HERALD_NAMESPACE": self.namespace,
            "HERALD_DATABASE_URL": self.database_url,
            "HERALD_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "HERALD_JWT_SECRET": DEV_JWT_SECRET,
            "HERALD_MEDIA_DIR": self.media_dir,
            "HERALD_PUSH_VAPID_PRIVATE_KEY_FILE": self.push_key_file,
            "HERALD_LOG_JSON": "true",
            "HERALD_CONTENT_MASTER_KEY": TEST_CONTENT_MASTER_KEY,
            **extra,
        }

    def settings(self) -> HeraldSettings:
        return HeraldSettings(
            environment="test",
            namespace=self.namespace,
            database_url=self.database_url,
            kafka_bootstrap=self.kafka_bootstrap,
            jwt_secret=DEV_JWT_SECRET,
            push_vapid_private_key_file=Path(self.push_key_file),
            content_master_key=TEST_CONTENT_MASTER_KEY,
        )

    @property
    def push_key_file(self) -> str:
        """The session's VAPID key file, next to its media directory: every service process
        of the session (feed, push) shares it; the first to start creates it."""
        return os.path.join(os.path.dirname(self.media_dir), "push-vapid-private-key.pem")

    def topic(self, base_name: str) -> str:
        return f"{self.namespace}.{base_name}"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_test_stack(media_root: str) -> StackSlice:
    admin_url = os.environ.get("HERALD_DATABASE_URL", DEFAULT_DATABASE_URL)
    suffix = uuid.uuid4().hex[:10]
    database = f"herald_t_{suffix}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    stack = StackSlice(
        namespace=f"t{suffix}",
        database_url=_with_database(admin_url, database),
        admin_database_url=admin_url,
        kafka_bootstrap=os.environ.get("HERALD_KAFKA_BOOTSTRAP", DEFAULT_KAFKA),
        media_dir=media_root,
    )
    conn = await asyncpg.connect(stack.database_url, server_settings={"timezone": "UTC"})
    try:
        await migrate(conn)
    finally:
        await conn.close()
    await ensure_topics(stack.settings())
    return stack


async def destroy_test_stack(stack: StackSlice) -> None:
    conn = await asyncpg.connect(stack.admin_database_url)
    try:
        database = urlsplit(stack.database_url).path.lstrip("/")
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        mine = [
            t
            for t in await admin.list_topics()
            if t.startswith(f"{stack.namespace}.") or t.startswith(f"{stack.namespace}-")
        ]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
