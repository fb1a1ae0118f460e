-- Push: the followers an alert reaches beyond a normal post's audience — those who muted
-- the channel but kept alerts on. follows_channel_idx covers only unmuted followers, so
-- an alert's audience query had no index matching its condition: Postgres read every
-- follower row of the channel from the heap (follows_pkey or follows_channel_all_idx,
-- then a filter on muted/alerts). services/push/audience.py selects an alert's followers
-- as `NOT muted` (follows_channel_idx) UNION ALL `muted AND alerts` (this index): checked
-- with EXPLAIN ANALYZE on 1.3 M follows with a channel of 100,000 followers (10 % muted,
-- half of those with alerts on), both branches are index-only scans (Heap Fetches: 0);
-- the alert count went from 165 ms to 77 ms and a shard page from 120 ms to 24 ms.
-- It holds only the muted-with-alerts rows, a small share of follows.
CREATE INDEX follows_channel_alerts_idx ON follows (channel_id) INCLUDE (account_id)
    WHERE active AND muted AND alerts;
