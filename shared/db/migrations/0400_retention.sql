-- Retention's bookkeeping and the indexes its deletes need.
--
-- Writer: retention only. The two "outbox" tables make every step restartable: what a
-- committed delete still owes the world (a live history_trimmed event, a file to remove)
-- is recorded in the same transaction as the delete and cleared only once it is done.

-- history_trimmed events owed to connected clients: all posts of the channel with
-- seq <= up_to_seq are gone. Cleared after the event is acknowledged by the broker.
CREATE TABLE retention_trims (
    channel_id uuid PRIMARY KEY,
    up_to_seq  bigint NOT NULL CHECK (up_to_seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Content-addressed media files whose last media row is gone: removed from the store,
-- then from here (re-checked against media first: the same bytes may be uploaded again).
CREATE TABLE retention_media_garbage (
    storage_key text PRIMARY KEY,
    queued_at   timestamptz NOT NULL DEFAULT now()
);

-- Deleted channels whose content is purged: later runs skip them (after a grace period
-- in which late posts of the channel are still swept).
CREATE TABLE retention_purged_channels (
    channel_id uuid PRIMARY KEY,
    purged_at  timestamptz NOT NULL
);

-- A deleted channel's follows go in batches by channel (the follower index is partial).
CREATE INDEX follows_channel_all_idx ON follows (channel_id);
-- Media past its expiry, and the "is this key still used" check before a file goes.
CREATE INDEX media_expires_idx ON media (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX media_storage_key_idx ON media (storage_key);
CREATE INDEX media_thumbnail_key_idx ON media (thumbnail_key) WHERE thumbnail_key IS NOT NULL;
