"""A channel's pinned posts as its card shows them (`channel_pins`, written by the publisher).

Only live pins: the post published and unexpired (joined with `posts`), so a pin disappears
from the card the moment its post expires or is deleted, whatever cleanup is still due.
"""

from __future__ import annotations

from typing import Any

# A column of the card query (`c` is the channel): its live pins, newest pin first, as a
# JSON array of {post_id, seq} (at most 3 rows: one index range of channel_pins).
PINNED_COLUMN = """
    (SELECT coalesce(jsonb_agg(jsonb_build_object('post_id', p.post_id, 'seq', p.seq)
                               ORDER BY cp.pinned_at DESC), '[]'::jsonb)
     FROM channel_pins cp
     JOIN posts p ON p.channel_id = cp.channel_id AND p.post_id = cp.post_id
                 AND p.created_at = cp.created_at
     WHERE cp.channel_id = c.channel_id AND p.status = 'published'
       AND p.expires_at > now()) AS pinned
"""


def pinned_of(value: Any) -> list[dict[str, Any]]:
    """The card's `pinned` from the column's value (decoded JSON, or None)."""
    return list(value or [])
