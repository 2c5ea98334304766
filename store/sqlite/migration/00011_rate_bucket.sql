-- Token buckets shared by every instance of a deployment (store.Executor
-- RateTake): each app's send rate holds for the whole deployment, not per
-- instance. Matches the PostgreSQL migration of the same number (SQLite has
-- one instance, so here it only keeps the two engines alike). No foreign
-- key: a key may name other limits than an app's.

-- +goose Up
CREATE TABLE rate_bucket (
    key          TEXT    PRIMARY KEY,
    tokens       REAL    NOT NULL,
    last_granted INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL   -- unix microseconds
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE rate_bucket;
