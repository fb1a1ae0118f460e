-- Feed: Web Push subscriptions (PushSubscription.toJSON() of a browser). The feed
-- writes rows; the push service reads them and deletes only those whose endpoint
-- answered 404/410 (gone). An endpoint is a browser profile's: re-subscribing it from
-- another account moves the row to that account (the device is now logged in as it).
CREATE TABLE push_subscriptions (
    subscription_id uuid PRIMARY KEY,
    account_id      text NOT NULL,
    endpoint        text NOT NULL UNIQUE,
    p256dh          bytea NOT NULL,          -- 65-byte uncompressed P-256 point
    auth            bytea NOT NULL,          -- 16-byte secret
    expiration_time timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- An account's subscriptions: listing, the per-account cap, and the push fan-out's
-- follows → subscriptions join.
CREATE INDEX push_subscriptions_account ON push_subscriptions (account_id);
