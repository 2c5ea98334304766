-- The ledger of send credits, the counters of subscribe answers, and the
-- events WeChat pushes. Matches the SQLite migration of the same number.

-- +goose Up
CREATE TABLE credit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid       text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    openid      text        NOT NULL,
    kind        text        NOT NULL,
    template_id text        NOT NULL DEFAULT '', -- '' for legacy kinds, so equality uses the index
    value       text        NOT NULL DEFAULT '', -- form_id / prepay_id; '' for subscribe kinds
    uses        integer     NOT NULL,
    uses_left   integer     NOT NULL,
    obtained_at timestamptz NOT NULL,
    expires_at  timestamptz,                     -- WeChat's real expiry; NULL: none
    spent_at    timestamptz,
    source      text        NOT NULL,
    dead_reason text
);

-- CreditSpend: equality on the first four columns, then the oldest first.
-- Partial, so used-up and dead rows waiting for the purge are not in it;
-- expires_at is included so the cutoff is checked in the index.
CREATE INDEX credit_spend ON credit (appid, openid, template_id, kind, obtained_at, id) INCLUDE (expires_at)
    WHERE uses_left > 0 AND dead_reason IS NULL;

-- The same form_id or prepay_id is stored once (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX credit_value ON credit (appid, kind, value) WHERE value <> '';

-- CreditPurge of used-up and dead rows.
CREATE INDEX credit_gone ON credit (id) WHERE uses_left <= 0 OR dead_reason IS NOT NULL;

-- CreditPurge of expired rows.
CREATE INDEX credit_expires ON credit (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE subscribe_stat (
    appid       text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    template_id text        NOT NULL,
    choice      text        NOT NULL,
    count       bigint      NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (appid, template_id, choice)
);

CREATE TABLE event (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid       text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    type        text        NOT NULL,
    openid      text        NOT NULL,
    template_id text        NOT NULL,
    status      text        NOT NULL,
    popup_scene text        NOT NULL,
    msgid       text        NOT NULL,
    errcode     integer     NOT NULL,
    create_time timestamptz NOT NULL,
    received_at timestamptz NOT NULL
);

-- WeChat repeats a push it got no answer to in time: stored once.
CREATE UNIQUE INDEX event_once ON event (appid, type, openid, template_id, create_time, msgid);
-- Sent events are matched to messages by msgid.
CREATE INDEX event_msgid ON event (appid, msgid) WHERE msgid <> '';

-- +goose Down
DROP TABLE event;
DROP TABLE subscribe_stat;
DROP TABLE credit;
