-- Crypto-shredding: one random AES-256 key per post version, wrapped under the master key
-- (HERALD_CONTENT_MASTER_KEY). The posts topic carries bodies sealed under these keys and
-- only the key id; destroying a row makes every copy of that version unreadable: the
-- broker's log, the DLQ, a backup of either.
-- Writers: the publisher inserts (committed before it produces); fan-out deletes a post's
-- keys in the transaction applying its delete, and the previous version's key on an edit;
-- retention drops a day's partition once all content expiring that day has expired.
CREATE TABLE content_keys (
    key_id        uuid NOT NULL,
    expires_on    date NOT NULL,          -- UTC day of the content's expires_at
    channel_id    uuid NOT NULL,
    post_id       uuid NOT NULL,
    master_key_id text NOT NULL,          -- which HERALD_CONTENT_MASTER_KEY entry wrapped it
    wrapped       bytea NOT NULL,         -- 12-byte nonce || AES-256-GCM(master, key, aad = key_id bytes)
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (expires_on, key_id)
) PARTITION BY RANGE (expires_on);
CREATE INDEX content_keys_post_idx ON content_keys (post_id);

-- The key a post's row was last written with (fan-out's): an edit destroys exactly this
-- one once the new version is applied. NULL for posts published before encryption.
ALTER TABLE posts ADD COLUMN key_id uuid;
ALTER TABLE posts ADD COLUMN key_expires_on date;

-- Create the day partitions content_keys_YYYYMMDD for [p_from, p_to], skipping those that
-- exist; returns how many it created. A date-keyed twin of herald_ensure_day_partitions
-- (whose bounds are timestamps). Used here, by the publisher when it meets a missing
-- day, and by retention to keep partitions ahead.
CREATE FUNCTION herald_ensure_content_key_partitions(p_from date, p_to date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date;
    part text;
    created integer := 0;
BEGIN
    FOR d IN SELECT generate_series(p_from, p_to, interval '1 day')::date LOOP
        part := format('content_keys_%s', to_char(d, 'YYYYMMDD'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF content_keys FOR VALUES FROM (%L) TO (%L)',
                part, d, d + 1
            );
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

-- Content published today expires at most 30 days on (the longest retention), on a UTC
-- day at most today + 31.
SELECT herald_ensure_content_key_partitions(
    (now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date + 31);
