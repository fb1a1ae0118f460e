"""Reading channels: the directory (search, filters, sorts, keyset) and the public card.

Only `status = 'active'` channels are ever returned; the directory lists public ones
only, and the card of an invite channel answers its followers and admins only
(`queries.audience`). Search is Postgres full-text over the
generated `channels.search` tsvector (GIN index), with prefix matching on every word so a
directory search box works while typing; ranked by `ts_rank`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.feed.models import DirectorySort
from services.feed.queries.audience import LISTED, readable
from services.feed.queries.pins import PINNED_COLUMN, pinned_of
from shared.db.timing import timed
from shared.emoji import is_emoji

# At most this many words of a query take part: enough for a name, bounded work.
MAX_QUERY_TERMS = 8
# Letters and digits only: the 'simple' parser splits on everything else (underscores
# too), and quoting only such tokens makes the tsquery injection-free.
_TERM = re.compile(r"[^\W_]+")

CARD_COLUMNS = """
    c.channel_id, c.handle, c.name, c.description, c.avatar_media_id, c.verified,
    c.category, c.country::text AS country, c.language, c.created_at, c.settings,
    COALESCE(s.followers, 0) AS followers, COALESCE(s.posts_7d, 0) AS posts_7d
"""


@dataclass(frozen=True)
class SortSpec:
    expression: str
    sql_type: str
    python_type: type


SORTS: dict[DirectorySort, SortSpec] = {
    DirectorySort.RELEVANCE: SortSpec("ts_rank(c.search, query)", "real", float),
    DirectorySort.POPULAR: SortSpec("COALESCE(s.followers, 0)", "bigint", int),
    DirectorySort.NEW: SortSpec("c.created_at", "timestamptz", datetime),
    DirectorySort.ACTIVE: SortSpec("COALESCE(s.posts_7d, 0)", "bigint", int),
}


def prefix_tsquery(q: str) -> str | None:
    """`'word':* & 'other':*` for the words of `q`, or None when it has none."""
    terms = _TERM.findall(q.lower())[:MAX_QUERY_TERMS]
    if not terms:
        return None
    return " & ".join(f"'{term}':*" for term in terms)


def directory_sql(sort: DirectorySort, *, has_query: bool, has_cursor: bool) -> str:
    spec = SORTS[sort]
    source = "channels c LEFT JOIN channel_stats s ON s.channel_id = c.channel_id"
    where = [
        "c.status = 'active'",
        LISTED,
        "($1::text IS NULL OR c.country = $1)",
        "($2::text IS NULL OR c.category = $2)",
    ]
    if has_query:
        source += ", to_tsquery('simple', $3) AS query"
        where.append("c.search @@ query")
    else:
        where.append("$3::text IS NULL")
    if has_cursor:
        where.append(f"({spec.expression}, c.channel_id) < ($5::{spec.sql_type}, $6::uuid)")
    else:
        where.append("$5::text IS NULL AND $6::uuid IS NULL")
    return f"""
SELECT {CARD_COLUMNS}, {spec.expression} AS sort_key
FROM {source}
WHERE {" AND ".join(where)}
ORDER BY {spec.expression} DESC, c.channel_id DESC
LIMIT $4
"""


@timed("feed", "directory")
async def directory(
    conn: asyncpg.Connection,
    *,
    tsquery: str | None,
    country: str | None,
    category: str | None,
    sort: DirectorySort,
    after: tuple[Any, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    sql = directory_sql(sort, has_query=tsquery is not None, has_cursor=after is not None)
    key, channel_id = after if after is not None else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        sql, country, category, tsquery, limit, key, channel_id
    )
    return rows


async def card(
    conn: asyncpg.Connection, id_or_handle: UUID | str, account_id: str | None
) -> asyncpg.Record | None:
    """The card of an active channel `account_id` (None: anonymous) may read."""
    column = "c.channel_id" if isinstance(id_or_handle, UUID) else "c.handle"
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        SELECT {CARD_COLUMNS}, {PINNED_COLUMN}
        FROM channels c LEFT JOIN channel_stats s ON s.channel_id = c.channel_id
        WHERE {column} = $1 AND c.status = 'active' AND {readable("c", "$2")}
        """,
        id_or_handle,
        account_id,
    )
    return row


async def is_active(
    conn: asyncpg.Connection, channel_id: UUID, account_id: str | None = None
) -> bool:
    """The channel is active and `account_id` (None: anonymous) may read it."""
    found = await conn.fetchval(
        f"""
        SELECT true FROM channels c
        WHERE c.channel_id = $1 AND c.status = 'active' AND {readable("c", "$2")}
        """,
        channel_id,
        account_id,
    )
    return found is True


def reaction_policy(settings: dict[str, Any] | None) -> tuple[str, list[str]]:
    """(`all`|`limited`|`none`, allowed emoji) from a channel's settings; `all` by default.
    Only emoji of `shared.emoji` are allowed, whatever a setting stored before that rule
    lists (the card offers them, and a reaction must be one)."""
    settings = settings or {}
    mode = settings.get("reactions", "all")
    if mode not in ("all", "limited", "none"):
        mode = "all"
    allowed = settings.get("allowed_reactions") or []
    return mode, [e for e in allowed if isinstance(e, str) and is_emoji(e)]


def card_of(row: asyncpg.Record) -> dict[str, Any]:
    mode, allowed = reaction_policy(row["settings"])
    return {
        "channel_id": row["channel_id"],
        "handle": row["handle"],
        "name": row["name"],
        "description": row["description"],
        "avatar_media_id": row["avatar_media_id"],
        "verified": row["verified"],
        "category": row["category"],
        "country": row["country"],
        "language": row["language"],
        "followers": row["followers"],
        "created_at": row["created_at"],
        "reactions": mode,
        "allowed_reactions": allowed if mode == "limited" else [],
        "posts_7d": row["posts_7d"],
        # The card's query selects the pins; directory rows have none.
        "pinned": pinned_of(row.get("pinned")),
    }
