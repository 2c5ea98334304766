-- Sends delivered per app, kind and quota day (the Beijing-time date WeChat
-- counts its daily send limits in), written with the outcomes that deliver
-- them. Each instance counts in rows of its own (holder), so outcomes of
-- several instances never wait on one counter row; readers sum them. Matches the PostgreSQL migration
-- of the same number. Rows go with their app.

-- +goose Up
CREATE TABLE daily_send (
    appid TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    day   TEXT    NOT NULL,   -- YYYY-MM-DD in Asia/Shanghai
    kind   TEXT    NOT NULL,   -- subscribe, template
    holder TEXT    NOT NULL,   -- the instance that counted
    sent   INTEGER NOT NULL,
    PRIMARY KEY (appid, day, kind, holder)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE daily_send;
