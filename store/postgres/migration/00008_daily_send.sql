-- Sends delivered per app, kind and quota day (the Beijing-time date WeChat
-- counts its daily send limits in), written with the outcomes that deliver
-- them. Each instance counts in rows of its own (holder), so outcomes of
-- several instances never wait on one counter row; readers sum them. Matches the SQLite migration of
-- the same number. Rows go with their app.

-- +goose Up
CREATE TABLE daily_send (
    appid text   NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    day   date   NOT NULL,   -- in Asia/Shanghai
    kind   text   NOT NULL,   -- subscribe, template
    holder text   NOT NULL,   -- the instance that counted
    sent   bigint NOT NULL,
    PRIMARY KEY (appid, day, kind, holder)
);

-- +goose Down
DROP TABLE daily_send;
