-- Sends delivered per app, kind and quota day (the Beijing-time date WeChat
-- counts its daily send limits in), written with the outcomes that deliver
-- them, so every instance reads one count. Matches the SQLite migration of
-- the same number. Rows go with their app.

-- +goose Up
CREATE TABLE daily_send (
    appid text   NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    day   date   NOT NULL,   -- in Asia/Shanghai
    kind  text   NOT NULL,   -- subscribe, template
    sent  bigint NOT NULL,
    PRIMARY KEY (appid, day, kind)
);

-- +goose Down
DROP TABLE daily_send;
