-- Mini-program sessions and the apps' WeChat push (callback) configuration.
--
-- A session row is keyed by SHA-256 of the session token; the token itself
-- is never stored. session_key and the callback Token/EncodingAESKey are
-- sealed (AES-GCM) before they reach the database. Both tables go with their
-- app (ON DELETE CASCADE).

-- +goose Up
CREATE TABLE mp_session (
    token_hash         bytea       PRIMARY KEY,
    appid              text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    openid             text        NOT NULL,
    session_key_sealed bytea,
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL
);

CREATE INDEX mp_session_expires_at ON mp_session (expires_at);
CREATE INDEX mp_session_appid ON mp_session (appid);

CREATE TABLE app_callback (
    appid          text        PRIMARY KEY REFERENCES app (appid) ON DELETE CASCADE,
    token_sealed   bytea       NOT NULL,
    aes_key_sealed bytea,
    mode           text        NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- +goose Down
DROP TABLE app_callback;
DROP TABLE mp_session;
