-- The ledger of send credits, the counters of subscribe answers, and the
-- events WeChat pushes. Times are INTEGER unix microseconds (00001).

-- +goose Up
CREATE TABLE credit (
    id          INTEGER PRIMARY KEY, -- rowid: ids grow, so (obtained_at, id) orders ties by arrival
    appid       TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    openid      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    template_id TEXT    NOT NULL DEFAULT '', -- '' for legacy kinds, so equality uses the index
    value       TEXT    NOT NULL DEFAULT '', -- form_id / prepay_id; '' for subscribe kinds
    uses        INTEGER NOT NULL,
    uses_left   INTEGER NOT NULL,
    obtained_at INTEGER NOT NULL,
    expires_at  INTEGER,                     -- WeChat's real expiry; NULL: none
    spent_at    INTEGER,
    source      TEXT    NOT NULL,
    dead_reason TEXT
) STRICT;

-- CreditSpend: equality on the first four columns, then the oldest first.
-- Partial, so used-up and dead rows waiting for the purge are not in it;
-- expires_at is carried so the cutoff is checked without reading the row.
CREATE INDEX credit_spend ON credit (appid, openid, template_id, kind, obtained_at, id, expires_at)
    WHERE uses_left > 0 AND dead_reason IS NULL;

-- The same form_id or prepay_id is stored once (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX credit_value ON credit (appid, kind, value) WHERE value <> '';

-- CreditPurge of used-up and dead rows.
CREATE INDEX credit_gone ON credit (id) WHERE uses_left <= 0 OR dead_reason IS NOT NULL;

-- CreditPurge of expired rows.
CREATE INDEX credit_expires ON credit (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE subscribe_stat (
    appid       TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    template_id TEXT    NOT NULL,
    choice      TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (appid, template_id, choice)
) STRICT;

CREATE TABLE event (
    id          INTEGER PRIMARY KEY,
    appid       TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    type        TEXT    NOT NULL,
    openid      TEXT    NOT NULL,
    template_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    popup_scene TEXT    NOT NULL,
    msgid       TEXT    NOT NULL,
    errcode     INTEGER NOT NULL,
    create_time INTEGER NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;

-- WeChat repeats a push it got no answer to in time: stored once.
CREATE UNIQUE INDEX event_once ON event (appid, type, openid, template_id, create_time, msgid);
-- Sent events are matched to messages by msgid.
CREATE INDEX event_msgid ON event (appid, msgid) WHERE msgid <> '';

-- +goose Down
DROP TABLE event;
DROP TABLE subscribe_stat;
DROP TABLE credit;
