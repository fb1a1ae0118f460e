-- Publisher: scheduled posts and pinned posts.
--
-- scheduled_posts: a post an admin wrote to be published at `publish_at` (1 minute to 30
-- days ahead). Its post_id is fixed when it is scheduled (a UUIDv7 whose timestamp is
-- `publish_at`, so the event's created_at and the post's expiry count from publication
-- and a re-produce after a crash carries the same (post_id, created_at) that fan-out's
-- ON CONFLICT de-duplicates). `request` is the publish request as given (type, text,
-- media_id, caption, poll, silent, priority). The publisher's scheduler takes due rows
-- `FOR UPDATE SKIP LOCKED` and deletes each only after the broker acknowledged its event;
-- a cancel deletes the row, which leaves nothing behind (no key, no event, no record).
-- `failed`: the publish was refused at the due time (e.g. the author is no longer an
-- admin, the alert limit); the row stays, with the reason, until the admin cancels it.
CREATE TABLE scheduled_posts (
    channel_id  uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    post_id     uuid NOT NULL,
    author_id   text NOT NULL,
    publish_at  timestamptz NOT NULL,
    request     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    failed      text,
    PRIMARY KEY (channel_id, post_id)
);
CREATE UNIQUE INDEX scheduled_posts_post_id_idx ON scheduled_posts (post_id);
-- The scheduler's due scan: rows not failed, by time.
CREATE INDEX scheduled_posts_due_idx ON scheduled_posts (publish_at) WHERE failed IS NULL;

-- channel_pins: at most 3 per channel (checked under the channel's advisory lock). Readers
-- join posts (status 'published', expires_at > now()), so a pin of an expired or deleted
-- post is never shown; the publisher removes a pin when its post is deleted and drops
-- dead pins of a channel whenever it pins.
CREATE TABLE channel_pins (
    channel_id uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    post_id    uuid NOT NULL,
    -- the post's created_at: with channel_id and post_id, the posts primary key
    created_at timestamptz NOT NULL,
    pinned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, post_id)
);
