-- API keys of the team's backend services. Only SHA-256 of the secret part
-- is stored. apps is a JSON array of appids (or ["*"]).

-- +goose Up
CREATE TABLE api_key (
    id          TEXT    PRIMARY KEY NOT NULL,
    name        TEXT    NOT NULL,
    secret_hash BLOB    NOT NULL,
    apps        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE api_key;
