-- The deletion ledger: what Herald destroyed, per channel, and when — the evidence behind
-- the publisher's deletion reports (GET /v1/channels/{id}/deletion-report,
-- GET /v1/operator/deletion-report). Counts and times only: never content, never an
-- account id.
--
-- One row per channel and either
-- - post (`post_id` set): a delete for everyone. Writer: fan-out, in the transaction that
--   applies the post.deleted event (it calls herald_ledger_post_deleted below, after it
--   destroyed the post's content keys), so the row exists exactly when the delete
--   committed. A redelivered delete changes nothing (the post is already a tombstone,
--   fan-out does not call again; and the call itself is idempotent).
-- - day (`day` set): expiry, the UTC day on which the content expired (a post's
--   `expires_at` date, a key's `expires_on`). Writer: retention, in the transaction of
--   each delete it makes: rows of shorter-retention posts deleted in batches, media rows
--   expired, and each dropped day partition of posts, feed_items and content_keys
--   (its rows counted per channel in the transaction that drops the detached table).
--   Counts add up over runs; each delete is counted once.
-- Retention also deletes ledger rows older than the ledger's own retention (180 days),
-- the audit log's period.
--
-- Fields: rows_dropped = content rows removed (posts, feed_items; a deleted post's row
-- becomes a bodiless tombstone, counted once); partitions_dropped = day partitions
-- dropped that held rows of the channel for that day (posts, feed_items, content_keys);
-- media_removed = media rows removed; keys_destroyed = content_keys rows gone (their
-- records on the posts topic and the DLQ can no longer be decrypted); at = the last time
-- anything was added to the row.
CREATE TABLE deletion_ledger (
    channel_id         uuid NOT NULL,
    post_id            uuid,
    day                date,
    rows_dropped       bigint NOT NULL DEFAULT 0 CHECK (rows_dropped >= 0),
    partitions_dropped integer NOT NULL DEFAULT 0 CHECK (partitions_dropped >= 0),
    media_removed      bigint NOT NULL DEFAULT 0 CHECK (media_removed >= 0),
    keys_destroyed     bigint NOT NULL DEFAULT 0 CHECK (keys_destroyed >= 0),
    at                 timestamptz NOT NULL DEFAULT now(),
    CHECK ((post_id IS NULL) <> (day IS NULL))
);
CREATE UNIQUE INDEX deletion_ledger_post_idx ON deletion_ledger (channel_id, post_id)
    WHERE post_id IS NOT NULL;
CREATE UNIQUE INDEX deletion_ledger_day_idx ON deletion_ledger (channel_id, day)
    WHERE day IS NOT NULL;
-- Old rows for the ledger's own expiry: `at` follows insertion order, so a BRIN index finds
-- them at next to no write cost (a btree would log an entry, and after each checkpoint a
-- page image, for every row retention adds).
CREATE INDEX deletion_ledger_at_idx ON deletion_ledger USING brin (at);

-- Fan-out's side: record the deletes for everyone its transaction just applied (one
-- element per post: its channel, id, content rows removed or blanked, keys destroyed).
-- Call it in the same transaction. Idempotent: a post already recorded keeps its row.
CREATE FUNCTION herald_ledger_post_deleted(
    p_channel_ids uuid[], p_post_ids uuid[], p_rows bigint[], p_keys bigint[]
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO deletion_ledger (channel_id, post_id, rows_dropped, keys_destroyed)
    SELECT channel_id, post_id, rows_dropped, keys_destroyed
    FROM unnest(p_channel_ids, p_post_ids, p_rows, p_keys)
         AS t(channel_id, post_id, rows_dropped, keys_destroyed)
    ON CONFLICT (channel_id, post_id) WHERE post_id IS NOT NULL DO NOTHING
$$;
