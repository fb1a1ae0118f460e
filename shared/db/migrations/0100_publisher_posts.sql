-- Publisher: the state of idempotent publish requests, and a record of every accepted post.
--
-- post_requests.state: 'pending' while the winner of an Idempotency-Key is producing,
-- 'accepted' once the broker acknowledged, 'failed' when the produce failed (a retry with
-- the same key takes the row over and produces the SAME post_id again; fan-out's
-- ON CONFLICT on the post makes a duplicate event harmless).
ALTER TABLE post_requests
    ADD COLUMN state      text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'accepted', 'failed')),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Every post the broker acknowledged, written by the publisher right after the ack, so an
-- admin can ask for its status before fan-out has persisted it, and so edits and deletes
-- know its type and retention window. Metadata only: no text, caption or poll. Rows past
-- expires_at are never served; retention may delete them like any expired row.
CREATE TABLE accepted_posts (
    channel_id uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    post_id    uuid NOT NULL,
    created_at timestamptz NOT NULL,
    type       text NOT NULL,
    author_id  text NOT NULL,
    media_id   uuid,
    status     text NOT NULL DEFAULT 'accepted' CHECK (status IN ('accepted', 'deleted')),
    expires_at timestamptz NOT NULL,
    edited_at  timestamptz,
    deleted_at timestamptz,
    PRIMARY KEY (channel_id, post_id)
);
CREATE INDEX accepted_posts_expires_idx ON accepted_posts (expires_at);
