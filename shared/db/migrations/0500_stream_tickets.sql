-- Feed: single-use tickets that let a browser's EventSource (which cannot send an
-- Authorization header) open GET /v1/stream. Only the SHA-256 of a ticket is stored, so
-- a leaked table (or backup) opens no stream. Any feed process redeems a ticket with one
-- atomic UPDATE on `hash`; rows past `expires_at` are deleted in bounded batches when
-- tickets are issued (see services/feed/queries/tickets.py).
CREATE TABLE stream_tickets (
    hash       bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    account_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- The cleanup finds expired rows oldest first without scanning live ones.
CREATE INDEX stream_tickets_expires_idx ON stream_tickets (expires_at);
