-- Token buckets shared by every instance of a deployment (store.Executor
-- RateTake): each app's send rate holds for the whole deployment, not per
-- instance. Matches the SQLite migration of the same number. No foreign
-- key: a key may name other limits than an app's.

-- +goose Up
CREATE TABLE rate_bucket (
    key          text             PRIMARY KEY,
    tokens       double precision NOT NULL,
    last_granted integer          NOT NULL,
    updated_at   timestamptz      NOT NULL
);

-- +goose Down
DROP TABLE rate_bucket;
