-- Apps and their access_token rows.
--
-- Times are INTEGER microseconds since the Unix epoch, UTC (store.TimePrecision),
-- so they compare as numbers and round-trip exactly what PostgreSQL's
-- timestamptz keeps. NULL means "not set" (a zero time.Time).

-- +goose Up
CREATE TABLE app (
    appid         TEXT    PRIMARY KEY NOT NULL,
    name          TEXT    NOT NULL,
    secret_sealed BLOB    NOT NULL,
    token_mode    TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE app_token (
    appid         TEXT    PRIMARY KEY NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    value_sealed  BLOB,
    expires_at    INTEGER,
    fetched_at    INTEGER,
    generation    INTEGER NOT NULL DEFAULT 0,
    fetches       INTEGER NOT NULL DEFAULT 0,
    lease_holder  TEXT,
    lease_until   INTEGER,
    last_error    TEXT,
    last_error_at INTEGER,
    retry_at      INTEGER
) STRICT;

-- +goose Down
DROP TABLE app_token;
DROP TABLE app;
