-- Audience: who may find, follow and read a channel.
--
-- channels.visibility (publisher; mirrors settings.visibility, which the owner sets):
--   public   — listed in the directory and search, anyone may follow (the default, and
--              what every existing channel keeps);
--   unlisted — not in the directory or search; anyone with the id or handle may follow;
--   invite   — not listed; following needs a valid invite; card, history, media,
--              stream and interactions answer 404 to anyone neither following nor admin.
-- A column rather than the JSON: the feed filters on it in every read path.
ALTER TABLE channels ADD COLUMN visibility text NOT NULL DEFAULT 'public'
    CHECK (visibility IN ('public', 'unlisted', 'invite'));

-- Invites to a channel, created and revoked by its admins (publisher). Only the sha256 of
-- the code is stored: the code itself is shown once, to the admin who created it. `uses`
-- is the feed's column: it counts a use in the statement that checks the invite is still
-- good (`uses < max_uses`, not revoked, not expired), so the last use goes to one
-- follower. A row names no account: not who created it, not who used it.
CREATE TABLE channel_invites (
    invite_id   uuid PRIMARY KEY,
    channel_id  uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL UNIQUE CHECK (octet_length(code_hash) = 32),
    max_uses    integer CHECK (max_uses IS NULL OR max_uses >= 1),
    uses        integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX channel_invites_channel_idx ON channel_invites (channel_id, invite_id DESC);
