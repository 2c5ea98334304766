-- Apps and their access_token rows.
--
-- Times are timestamptz (microseconds, store.TimePrecision). NULL means
-- "not set" (a zero time.Time).

-- +goose Up
CREATE TABLE app (
    appid         text        PRIMARY KEY,
    name          text        NOT NULL,
    secret_sealed bytea       NOT NULL,
    token_mode    text        NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE app_token (
    appid         text        PRIMARY KEY REFERENCES app (appid) ON DELETE CASCADE,
    value_sealed  bytea,
    expires_at    timestamptz,
    fetched_at    timestamptz,
    generation    bigint      NOT NULL DEFAULT 0,
    fetches       bigint      NOT NULL DEFAULT 0,
    lease_holder  text,
    lease_until   timestamptz,
    last_error    text,
    last_error_at timestamptz,
    retry_at      timestamptz
);

-- +goose Down
DROP TABLE app_token;
DROP TABLE app;
