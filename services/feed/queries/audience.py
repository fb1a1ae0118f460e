"""Who may read a channel: its `visibility` (publisher's column, migration 1300).

- `public`: anyone; listed in the directory;
- `unlisted`: anyone who has its id or handle; never listed;
- `invite`: its active followers and its admins only; everyone else, anonymous callers
  included, gets the same 404 as for a channel that does not exist.

`readable(alias, account_param)` is the SQL condition every feed read path adds next to
its `status = 'active'` check; an anonymous caller passes NULL, which matches no follow
and no admin. Both probes are primary-key lookups (`follows (account_id, channel_id)`,
`channel_admins (channel_id, account_id)`), and run only for invite channels.
"""

from __future__ import annotations

LISTED = "c.visibility = 'public'"


def readable(alias: str, account_param: str) -> str:
    """SQL: the channel `alias` may be read by the account in `account_param` (text)."""
    return f"""({alias}.visibility <> 'invite'
        OR EXISTS (SELECT 1 FROM follows rf
                    WHERE rf.account_id = {account_param}::text
                      AND rf.channel_id = {alias}.channel_id AND rf.active)
        OR EXISTS (SELECT 1 FROM channel_admins ra
                    WHERE ra.channel_id = {alias}.channel_id
                      AND ra.account_id = {account_param}::text))"""
