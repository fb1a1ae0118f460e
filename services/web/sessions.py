"""Browser sessions in `web_sessions`, shared by every web process.

The cookie holds a random session id; the table holds only its SHA-256, the account, the
API token web forwards for it (and the OIDC refresh token) and when the session ends.
`create` makes a new id at every login (so a session id planted before login is worth
nothing after it), and clears a batch of expired rows.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

# Expired rows deleted per login: bounded, so one login never waits on a big delete.
CLEANUP_BATCH = 500


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True)
class Session:
    """A logged-in browser: `access_token` goes to the APIs as the bearer token."""

    hash: bytes
    account_id: str
    access_token: str
    refresh_token: str | None
    access_expires_at: datetime | None
    expires_at: datetime

    def access_expires_within(self, seconds: float) -> bool:
        """The API token ends within `seconds` (never, for a token without an expiry)."""
        if self.access_expires_at is None:
            return False
        return self.access_expires_at <= datetime.now(UTC) + timedelta(seconds=seconds)


class SessionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        account_id: str,
        access_token: str,
        *,
        ttl_s: int,
        refresh_token: str | None = None,
        access_expires_at: datetime | None = None,
    ) -> str:
        """A new session; returns its id (for the cookie, never stored)."""
        session_id = secrets.token_urlsafe(32)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                DELETE FROM web_sessions WHERE hash IN (
                    SELECT hash FROM web_sessions WHERE expires_at < now()
                    ORDER BY expires_at LIMIT $1)
                """,
                CLEANUP_BATCH,
            )
            await conn.execute(
                """
                INSERT INTO web_sessions
                    (hash, account_id, access_token, refresh_token, access_expires_at,
                     expires_at)
                VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
                """,
                digest(session_id),
                account_id,
                access_token,
                refresh_token,
                access_expires_at,
                float(ttl_s),
            )
        return session_id

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id; None when unknown or expired."""
        row = await self._pool.fetchrow(
            """
            SELECT hash, account_id, access_token, refresh_token, access_expires_at, expires_at
            FROM web_sessions WHERE hash = $1 AND expires_at > now()
            """,
            digest(session_id),
        )
        return Session(**dict(row)) if row is not None else None

    async def renew_tokens(
        self,
        session: Session,
        access_token: str,
        refresh_token: str | None,
        access_expires_at: datetime | None,
    ) -> Session:
        """Store refreshed provider tokens (a provider may rotate the refresh token)."""
        refresh = refresh_token or session.refresh_token
        await self._pool.execute(
            """
            UPDATE web_sessions
            SET access_token = $2, refresh_token = $3, access_expires_at = $4
            WHERE hash = $1
            """,
            session.hash,
            access_token,
            refresh,
            access_expires_at,
        )
        return Session(
            hash=session.hash,
            account_id=session.account_id,
            access_token=access_token,
            refresh_token=refresh,
            access_expires_at=access_expires_at,
            expires_at=session.expires_at,
        )

    async def delete(self, session_hash: bytes) -> None:
        await self._pool.execute("DELETE FROM web_sessions WHERE hash = $1", session_hash)
