-- Sends delivered per app, kind and quota day (the Beijing-time date WeChat
-- counts its daily send limits in), written with the outcomes that deliver
-- them, so every instance reads one count. Matches the PostgreSQL migration
-- of the same number. Rows go with their app.

-- +goose Up
CREATE TABLE daily_send (
    appid TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    day   TEXT    NOT NULL,   -- YYYY-MM-DD in Asia/Shanghai
    kind  TEXT    NOT NULL,   -- subscribe, template
    sent  INTEGER NOT NULL,
    PRIMARY KEY (appid, day, kind)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE daily_send;
