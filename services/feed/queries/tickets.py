"""SQL of stream tickets: issue (with bounded cleanup) and atomic single-use redemption.

A ticket is stored only as its SHA-256 (`hash`), bound to one account, and expires
`TICKET_TTL_S` after issue (database clock, so every feed process agrees). Redemption is
one `UPDATE … WHERE used_at IS NULL AND expires_at > now() RETURNING`: two processes
racing on one ticket cannot both win, because the second finds `used_at` already set.
"""

from __future__ import annotations

import hashlib

import asyncpg

from shared.db.timing import timed

# The contract's upper bound: long enough to open a stream right after asking for it,
# short enough that a ticket seen in a proxy log or browser history is already dead.
TICKET_TTL_S = 60
# Expired (and so also every used) rows deleted per issue. More than the one row an issue
# adds, so the table shrinks back to about one TTL's worth of issues whenever tickets are
# being asked for; SKIP LOCKED keeps concurrent issuers from waiting on each other.
CLEANUP_BATCH = 100


def ticket_hash(ticket: str) -> bytes:
    """What is stored and looked up: the ticket itself never reaches the database."""
    return hashlib.sha256(ticket.encode()).digest()


@timed("feed", "ticket_issue")
async def issue(conn: asyncpg.Connection, ticket: str, account_id: str) -> None:
    """Store the ticket's hash for `account_id`; deletes up to `CLEANUP_BATCH` expired rows
    in the same statement (cleanup rides on issue, so no extra task or timer is needed)."""
    await conn.execute(
        """
        WITH expired AS (
            DELETE FROM stream_tickets
            WHERE hash IN (SELECT hash FROM stream_tickets
                           WHERE expires_at <= now()
                           ORDER BY expires_at
                           LIMIT $4
                           FOR UPDATE SKIP LOCKED)
        )
        INSERT INTO stream_tickets (hash, account_id, expires_at)
        VALUES ($1, $2, now() + make_interval(secs => $3))
        """,
        ticket_hash(ticket),
        account_id,
        float(TICKET_TTL_S),
        CLEANUP_BATCH,
    )


@timed("feed", "ticket_redeem")
async def redeem(conn: asyncpg.Connection, ticket: str) -> str | None:
    """The ticket's account, marking it used; None when unknown, already used or expired."""
    account_id: str | None = await conn.fetchval(
        """
        UPDATE stream_tickets SET used_at = now()
        WHERE hash = $1 AND used_at IS NULL AND expires_at > now()
        RETURNING account_id
        """,
        ticket_hash(ticket),
    )
    return account_id
