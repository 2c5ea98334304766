-- Keys seen once, shared by every instance (store.Executor SeenAdd): the
-- callback's replay guard (a push's timestamp and nonce) holds for the whole
-- deployment. Matches the PostgreSQL migration of the same number.

-- +goose Up
CREATE TABLE seen_key (
    key        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL   -- unix microseconds
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE seen_key;
