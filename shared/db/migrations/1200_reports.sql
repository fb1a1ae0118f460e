-- Reports: any account reports a channel or a post (feed); operators list and resolve
-- them (publisher). The reporter is never stored: only `reporter_tag`, an HMAC of
-- (account, target) under HERALD_FEED_REPORT_KEY, which exists to refuse a second open
-- report by the same account on the same target and is deleted with the report.
--
-- Ownership (one writer per table):
-- - `reports`, `report_evidence`: written by the feed (filed in the request).
-- - `report_resolutions`: written by the publisher (an operator's decision, counts only,
--   no reporter tag, no note).
-- The publisher never deletes feed rows. A resolution closes every report and evidence
-- row of its target whose `filed_at`/`copied_at` is not after its `resolved_at`: from
-- the resolve's commit on, closed rows are hidden from the operator list and can never
-- block a new report (the feed deletes a target's closed rows before filing on it), and
-- retention deletes them on its next run — "deleted when resolved" holds within one
-- retention interval (HERALD_RETENTION_INTERVAL_S, 5 minutes by default).
-- Retention also deletes evidence once the post would have expired (`expires_at`; the
-- list never shows it past then) and resolutions after 180 days, the audit period.
--
-- Exact counts: filing (feed) and resolving (publisher) both hold the target's advisory
-- lock (`report_target_lock`) to their commit and take their time from clock_timestamp()
-- under it, so a report is either counted by a resolution and closed by it, or filed
-- after it and open; never filed "during" it.
--
-- Evidence keeps a reported post's body (text, caption, poll, media references) after its
-- admin deletes it, so operators can judge it; it is the one copy of a deleted post's
-- words Herald keeps, and only until the reports are resolved or the post's own expiry.

CREATE TABLE reports (
    report_id    uuid PRIMARY KEY,
    channel_id   uuid NOT NULL,
    post_id      uuid,                     -- NULL: the channel itself is reported
    reason       text NOT NULL CHECK (reason IN ('spam', 'scam', 'impersonation', 'violence',
                                                 'hate', 'sexual', 'misinformation', 'other')),
    note         text CHECK (char_length(note) <= 1000),
    -- hex HMAC-SHA256 of (account, channel, post) under the feed's report key
    reporter_tag text NOT NULL,
    filed_at     timestamptz NOT NULL
);
-- The 409 of a second open report, atomically: every row is open, or closed and about to
-- be deleted, and the feed deletes the target's closed rows before it inserts.
CREATE UNIQUE INDEX reports_reporter_tag_key ON reports (reporter_tag);
CREATE INDEX reports_target_idx ON reports (channel_id, post_id, filed_at);

CREATE TABLE report_evidence (
    post_id    uuid PRIMARY KEY,           -- one per reported post
    channel_id uuid NOT NULL,
    body       jsonb NOT NULL,             -- the post's body when first reported
    copied_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL        -- the post's own expiry
);
CREATE INDEX report_evidence_expires_idx ON report_evidence (expires_at);

CREATE TABLE report_resolutions (
    resolution_id uuid PRIMARY KEY,
    channel_id    uuid NOT NULL,
    post_id       uuid,
    resolution    text NOT NULL CHECK (resolution IN ('actioned', 'dismissed')),
    count         integer NOT NULL CHECK (count > 0),
    resolved_at   timestamptz NOT NULL
);
CREATE INDEX report_resolutions_target_idx
    ON report_resolutions (channel_id, post_id, resolved_at DESC);
CREATE INDEX report_resolutions_resolved_idx ON report_resolutions (resolved_at);

-- The lock both writers take on a target for the rest of their transaction: the two-int
-- advisory form in namespace "rept" (0x72657074), apart from every other lock user.
CREATE FUNCTION report_target_lock(channel uuid, post uuid) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(1919250548, hashtext(channel::text || coalesce(post::text, '')))
$$;
