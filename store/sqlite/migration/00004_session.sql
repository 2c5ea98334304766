-- Mini-program sessions and the apps' WeChat push (callback) configuration.
--
-- A session row is keyed by SHA-256 of the session token; the token itself
-- is never stored. session_key and the callback Token/EncodingAESKey are
-- sealed (AES-GCM) before they reach the database. Both tables go with their
-- app (ON DELETE CASCADE). Times are INTEGER unix microseconds, UTC.

-- +goose Up
CREATE TABLE mp_session (
    token_hash         BLOB    PRIMARY KEY NOT NULL,
    appid              TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    openid             TEXT    NOT NULL,
    session_key_sealed BLOB,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL
) STRICT;

CREATE INDEX mp_session_expires_at ON mp_session (expires_at);
CREATE INDEX mp_session_appid ON mp_session (appid);

CREATE TABLE app_callback (
    appid          TEXT    PRIMARY KEY NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    token_sealed   BLOB    NOT NULL,
    aes_key_sealed BLOB,
    mode           TEXT    NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE app_callback;
DROP TABLE mp_session;
