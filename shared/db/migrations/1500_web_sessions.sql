-- Web: the browser sessions of the web app (services/web), its only tables. Only the
-- SHA-256 of a session id is stored, so a leaked table (or backup) opens no session; every
-- login makes a new id. `access_token` is what web forwards to the publisher and feed
-- APIs (a dev token, or the OpenID provider's access token, renewed with
-- `refresh_token` before `access_expires_at`). Rows past `expires_at` are deleted in
-- bounded batches at each login (services/web/sessions.py).
CREATE TABLE web_sessions (
    hash              bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    account_id        text NOT NULL,
    access_token      text NOT NULL,
    refresh_token     text,
    access_expires_at timestamptz,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at);

-- An OpenID login in progress: the SHA-256 of its `state` (the browser holds the value in
-- a cookie), the nonce the ID token must carry and the PKCE verifier. Single use (the
-- callback deletes the row it redeems), ten minutes at most.
CREATE TABLE web_logins (
    hash          bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    next_path     text NOT NULL,
    expires_at    timestamptz NOT NULL
);

CREATE INDEX web_logins_expires_idx ON web_logins (expires_at);
