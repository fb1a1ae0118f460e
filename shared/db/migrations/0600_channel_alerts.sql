-- Publisher: the alert tier of push (channels an operator trusts with alerts) and the
-- record that rate-limits it.
--
-- channels.alerts_enabled: set and cleared by an operator (PUT/DELETE
-- /v1/operator/channels/{id}/alerts); a post with priority "alert" is refused (403) on a
-- channel without it.
ALTER TABLE channels ADD COLUMN alerts_enabled boolean NOT NULL DEFAULT false;

-- One row per alert post a channel holds a slot for, in the last hour: reserved under the
-- channel's advisory lock before the produce (so concurrent alerts cannot both take the
-- last slot), removed again when the produce failed. Ids and a time only, no content;
-- rows older than the hour are removed by the next reservation of the same channel, so
-- the table holds at most a few rows per channel.
CREATE TABLE channel_alerts_sent (
    channel_id  uuid NOT NULL REFERENCES channels (channel_id) ON DELETE CASCADE,
    post_id     uuid NOT NULL,
    reserved_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (channel_id, post_id)
);
CREATE INDEX channel_alerts_sent_window_idx ON channel_alerts_sent (channel_id, reserved_at);
