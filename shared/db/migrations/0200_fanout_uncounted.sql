-- Fan-out: the rows whose counted state lags their current state, for the counters
-- reconciliation sweep (services/fanout/counters/reconcile.py). Partial: in steady state
-- they hold almost nothing, so the sweep costs nothing when all events arrive.
CREATE INDEX reactions_uncounted_idx ON reactions (updated_at)
    WHERE counted_emoji IS DISTINCT FROM emoji;
CREATE INDEX poll_votes_uncounted_idx ON poll_votes (updated_at)
    WHERE counted_options IS DISTINCT FROM options;
CREATE INDEX follows_uncounted_idx ON follows (account_id, channel_id)
    WHERE counted_active IS DISTINCT FROM active;
