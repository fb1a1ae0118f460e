-- Moderation (publisher): a suspended channel's reason, appeals against a suspension and
-- the audit log of operator actions and admin changes.
--
-- `channels.suspension_id` names the current suspension (NULL while active): an appeal
-- belongs to one suspension, and the unique index lets a channel's admins file exactly
-- one appeal per suspension (a second one, open or decided, is a unique violation).

ALTER TABLE channels
    ADD COLUMN suspension_id     uuid,
    ADD COLUMN suspension_reason text CHECK (char_length(suspension_reason) <= 1000),
    ADD COLUMN suspended_at      timestamptz;

CREATE TABLE appeals (
    appeal_id     uuid PRIMARY KEY,
    channel_id    uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    suspension_id uuid NOT NULL,
    text          text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'restored', 'upheld')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    decided_at    timestamptz
);
CREATE UNIQUE INDEX appeals_suspension_key ON appeals (channel_id, suspension_id);
CREATE INDEX appeals_open_idx ON appeals (created_at, appeal_id) WHERE status = 'open';

-- Append-only: rows are inserted, and deleted by retention after 180 days; never updated.
-- `actor_role` is 'operator', 'owner' or 'admin'; `actor_id` is set only for an admin
-- change, and only to the account of one of the channel's admins (who know each other):
-- never an operator's, a follower's or a reporter's account. No foreign key to channels,
-- so a deleted channel's entries stay readable by operators until they expire.
CREATE TABLE audit_log (
    audit_id   uuid PRIMARY KEY,
    channel_id uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    actor_role text NOT NULL CHECK (actor_role IN ('operator', 'owner', 'admin')),
    actor_id   text,
    action     text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_channel_idx ON audit_log (channel_id, at DESC, audit_id DESC);
-- Expiry finds old rows by time: `at` follows insertion order, so a BRIN index suffices.
CREATE INDEX audit_log_at_idx ON audit_log USING brin (at);

CREATE FUNCTION herald_audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION herald_audit_log_append_only();
