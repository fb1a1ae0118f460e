"""Web Push pieces shared by the feed (subscriptions) and the push service (sending).

`endpoints`: which push endpoints Herald will ever connect to (the SSRF rules).
`vapid`: the VAPID key pair file (RFC 8292) both processes read.
"""
