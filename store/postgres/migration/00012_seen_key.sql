-- Keys seen once, shared by every instance (store.Executor SeenAdd): the
-- callback's replay guard (a push's timestamp and nonce) holds for the whole
-- deployment. Matches the SQLite migration of the same number.

-- +goose Up
CREATE TABLE seen_key (
    key        text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE seen_key;
