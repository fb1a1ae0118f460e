-- Herald's first schema: the tables of DESIGN.md.
--
-- Writers (one per table): publisher owns channels/channel_admins/media/post_requests;
-- fan-out owns posts, feed_items, post_counters, post_views, channel_stats and the
-- channel counters columns; feed owns follows/reactions/poll_votes (fan-out owns their
-- counted_* columns); retention owns partitions and expiry.
--
-- Every table a future Citus cluster would distribute carries its distribution key
-- (posts: channel_id; follows and feed_items: account_id) and every query filters on it.

CREATE EXTENSION IF NOT EXISTS hll;

-- ------------------------------------------------------------------ channels

CREATE TABLE channels (
    channel_id      uuid PRIMARY KEY,
    handle          text NOT NULL CHECK (handle ~ '^[a-z0-9_]{3,32}$'),
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
    category        text NOT NULL,
    country         char(2) NOT NULL,
    language        text NOT NULL,
    avatar_media_id uuid,
    settings        jsonb NOT NULL DEFAULT '{}'::jsonb,
    retention_days  smallint NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 30),
    verified        boolean NOT NULL DEFAULT false,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    -- written by fan-out
    last_seq        bigint NOT NULL DEFAULT 0,
    last_post_at    timestamptz,
    search          tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', handle), 'A') ||
        setweight(to_tsvector('simple', name), 'A') ||
        setweight(to_tsvector('simple', description), 'B')
    ) STORED
);
-- Handles are stored lower-case; uniqueness holds among channels not deleted.
CREATE UNIQUE INDEX channels_handle_key ON channels (handle) WHERE status <> 'deleted';
CREATE INDEX channels_search_idx ON channels USING gin (search);
CREATE INDEX channels_directory_new_idx ON channels (created_at DESC, channel_id) WHERE status = 'active';

CREATE TABLE channel_admins (
    channel_id uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    account_id text NOT NULL,
    role       text NOT NULL CHECK (role IN ('owner', 'admin')),
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, account_id)
);
CREATE INDEX channel_admins_account_idx ON channel_admins (account_id);

-- ------------------------------------------------------------------ media

CREATE TABLE media (
    media_id      uuid PRIMARY KEY,
    channel_id    uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('photo', 'video', 'sticker', 'voice')),
    mime          text NOT NULL,
    bytes         bigint NOT NULL,
    sha256        text NOT NULL,
    width         integer,
    height        integer,
    storage_key   text NOT NULL,
    thumbnail_key text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- set when a post first uses it: retention removes media never used within 24 hours
    first_used_at timestamptz,
    -- the latest expiry of any post using it: retention removes the file after it
    expires_at    timestamptz
);
CREATE INDEX media_channel_idx ON media (channel_id);
CREATE INDEX media_unused_idx ON media (created_at) WHERE first_used_at IS NULL;
CREATE INDEX media_sha_idx ON media (sha256);

-- Idempotency-Key → post_id, per channel, kept at least 24 hours.
CREATE TABLE post_requests (
    channel_id      uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    request_hash    text NOT NULL,
    post_id         uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, idempotency_key)
);
CREATE INDEX post_requests_created_idx ON post_requests (created_at);

-- ------------------------------------------------------------------ posts (fan-out)

-- Partitioned by day of created_at (the UUIDv7 time of post_id), so expiry is a DROP.
-- The primary key contains the partition key; (channel_id, post_id, created_at) are all
-- fixed by the publish event, so a redelivered event conflicts and does nothing.
CREATE TABLE posts (
    channel_id   uuid NOT NULL,
    post_id      uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    seq          bigint NOT NULL,
    author_id    text NOT NULL,
    body         jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'deleted')),
    published_at timestamptz NOT NULL DEFAULT now(),
    edited_at    timestamptz,
    deleted_at   timestamptz,
    -- last change of any kind: SSE replay after a reconnect reads changes since an id
    changed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    -- true when fan-out wrote feed_items rows for it; readers merge the others at read time
    fanned_out   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (channel_id, post_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX posts_channel_seq_idx ON posts (channel_id, seq DESC);
CREATE INDEX posts_read_time_merge_idx ON posts (channel_id, created_at DESC, post_id DESC)
    WHERE NOT fanned_out;
CREATE INDEX posts_post_id_idx ON posts (post_id);
CREATE INDEX posts_changed_idx ON posts (channel_id, changed_at);

-- Hybrid fan-out rows: one per (non-muted follower, post) for channels at or under the
-- write threshold. No unique index: the post's own ON CONFLICT decides newness once.
CREATE TABLE feed_items (
    account_id text NOT NULL,
    created_at timestamptz NOT NULL,
    channel_id uuid NOT NULL,
    post_id    uuid NOT NULL,
    seq        bigint NOT NULL
) PARTITION BY RANGE (created_at);
CREATE INDEX feed_items_account_idx ON feed_items (account_id, created_at DESC, post_id DESC);

-- ------------------------------------------------------------------ follows & interactions (feed)

CREATE TABLE follows (
    account_id     text NOT NULL,
    channel_id     uuid NOT NULL,
    -- the follower's choice; an unfollow keeps the row (active = false) until counted
    active         boolean NOT NULL DEFAULT true,
    followed_at    timestamptz NOT NULL DEFAULT now(),
    muted          boolean NOT NULL DEFAULT false,
    alerts         boolean NOT NULL DEFAULT true,
    last_read_seq  bigint NOT NULL DEFAULT 0,
    -- fan-out's: whether this row is included in channel_stats.followers
    counted_active boolean NOT NULL DEFAULT false,
    PRIMARY KEY (account_id, channel_id)
);
-- The follower index that set-based fan-out reads: INSERT … SELECT … WHERE channel_id = $1.
CREATE INDEX follows_channel_idx ON follows (channel_id) INCLUDE (account_id, followed_at)
    WHERE active AND NOT muted;

CREATE TABLE reactions (
    post_id       uuid NOT NULL,
    account_id    text NOT NULL,
    channel_id    uuid NOT NULL,
    emoji         text,
    counted_emoji text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, account_id)
);
CREATE INDEX reactions_channel_idx ON reactions (channel_id);

CREATE TABLE poll_votes (
    post_id         uuid NOT NULL,
    account_id      text NOT NULL,
    channel_id      uuid NOT NULL,
    options         smallint[],
    counted_options smallint[],
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (post_id, account_id)
);
CREATE INDEX poll_votes_channel_idx ON poll_votes (channel_id);

-- ------------------------------------------------------------------ counters (fan-out)

-- kind: 'reaction' (key = emoji) or 'vote' (key = option index as text).
CREATE TABLE post_counters (
    post_id    uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('reaction', 'vote')),
    key        text NOT NULL,
    channel_id uuid NOT NULL,
    count      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (post_id, kind, key)
);
CREATE INDEX post_counters_channel_idx ON post_counters (channel_id);

-- Unique views per post, without storing who viewed: a HyperLogLog sketch.
CREATE TABLE post_views (
    post_id    uuid PRIMARY KEY,
    channel_id uuid NOT NULL,
    sketch     hll NOT NULL DEFAULT hll_empty()
);
CREATE INDEX post_views_channel_idx ON post_views (channel_id);

CREATE TABLE channel_stats (
    channel_id uuid PRIMARY KEY REFERENCES channels (channel_id) ON DELETE CASCADE,
    followers  bigint NOT NULL DEFAULT 0,
    posts_7d   integer NOT NULL DEFAULT 0,
    followers_7d_change bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channel_stats_popular_idx ON channel_stats (followers DESC, channel_id);
CREATE INDEX channel_stats_active_idx ON channel_stats (posts_7d DESC, channel_id);

-- Net follower change per channel and day, for insights' 7-day change.
CREATE TABLE channel_follower_days (
    channel_id uuid NOT NULL,
    day        date NOT NULL,
    delta      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, day)
);

-- ------------------------------------------------------------------ partitions

-- Create the day partitions of a day-partitioned table for [p_from, p_to], skipping
-- those that exist. Returns how many it created. Used by migrations, fan-out (days it
-- meets) and retention (days ahead).
CREATE FUNCTION herald_ensure_day_partitions(p_table text, p_from date, p_to date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date;
    part text;
    created integer := 0;
BEGIN
    FOR d IN SELECT generate_series(p_from, p_to, interval '1 day')::date LOOP
        part := format('%s_p%s', p_table, to_char(d, 'YYYYMMDD'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                part, p_table, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC'
            );
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;
