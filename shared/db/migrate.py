"""Apply the plain-SQL migrations in `shared/db/migrations/` in name order.

A small runner of our own rather than a library: Herald's migrations are forward-only
SQL files, and the runner is two short functions (`load_migrations`, `migrate`) that
tests/integration/foundation/test_migrations.py covers, where a library (alembic, yoyo)
would bring an ORM or a second config format. Each file runs in its own transaction,
under an advisory lock so concurrent starts apply it once; an applied file whose checksum
changed is refused. After migrating, the day partitions around today exist.

Usage: python -m shared.db.migrate
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from shared.settings import HeraldSettings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Arbitrary but fixed: every Herald process agrees on it.
MIGRATION_LOCK_ID = 7_405_001
DAY_PARTITIONED_TABLES = ("posts", "feed_items")
# Partitions that must exist after a migration: the 30-day retention window behind (not
# further: retention drops a partition once its whole day is 30 days old), a week ahead.
PARTITION_DAYS_BEHIND = 29
PARTITION_DAYS_AHEAD = 7


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return [
        Migration(version=path.stem, sql=path.read_text())
        for path in sorted(directory.glob("*.sql"))
    ]


async def migrate(
    conn: asyncpg.Connection,
    migrations: list[Migration] | None = None,
    today: datetime | None = None,
) -> list[str]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    pending_list = load_migrations() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {
            row["version"]: row["checksum"]
            for row in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        done: list[str] = []
        for migration in pending_list:
            known = applied.get(migration.version)
            if known is not None:
                if known != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version} changed after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                    migration.version,
                    migration.checksum,
                )
            log.info("applied migration", extra={"version": migration.version})
            done.append(migration.version)
        await ensure_partitions_around(conn, today or datetime.now(UTC))
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)


async def ensure_partitions_around(conn: asyncpg.Connection, now: datetime) -> int:
    """Create the day partitions from the retention window behind to a week ahead."""
    day = now.astimezone(UTC).date()
    created = 0
    for table in DAY_PARTITIONED_TABLES:
        created += await conn.fetchval(
            "SELECT herald_ensure_day_partitions($1, $2, $3)",
            table,
            day - timedelta(days=PARTITION_DAYS_BEHIND),
            day + timedelta(days=PARTITION_DAYS_AHEAD),
        )
    return int(created)


async def run(settings: HeraldSettings) -> list[str]:
    conn = await asyncpg.connect(settings.database_url, server_settings={"timezone": "UTC"})
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def main() -> None:
    from shared.logs import configure_logging

    settings = HeraldSettings()
    configure_logging(settings, "migrate")
    applied = asyncio.run(run(settings))
    print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'up to date'}")


if __name__ == "__main__":
    main()
