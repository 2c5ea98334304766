-- API keys of the team's backend services. Only SHA-256 of the secret part
-- is stored. apps is a JSON array of appids (or ["*"]), as in SQLite.

-- +goose Up
CREATE TABLE api_key (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    secret_hash bytea       NOT NULL,
    apps        text        NOT NULL,
    created_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE api_key;
