-- Broadcasts, recurring schedules, webhooks and the webhook outbox.
--
-- Every table goes with its app (ON DELETE CASCADE), outbox rows with their
-- webhook. spec and message are JSON the store keeps opaque. A webhook's
-- secret is sealed (AES-GCM) before it reaches the database, and copied,
-- still sealed, into each outbox row with the URL, so a claim needs no join.
-- Times are INTEGER unix microseconds, UTC.

-- +goose Up
CREATE TABLE broadcast (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    appid       TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    template_id TEXT    NOT NULL,
    spec        BLOB    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'accepting',
    accepted    INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX broadcast_appid ON broadcast (appid);

CREATE TABLE schedule (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    appid        TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    cron         TEXT    NOT NULL,
    timezone     TEXT    NOT NULL,
    message      BLOB    NOT NULL,
    state        TEXT    NOT NULL,
    next_run_at  INTEGER,
    last_run_at  INTEGER,
    lease_holder TEXT,
    lease_until  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX schedule_due ON schedule (next_run_at) WHERE state = 'active';
CREATE INDEX schedule_appid ON schedule (appid);

CREATE TABLE webhook (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    appid         TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    url           TEXT    NOT NULL,
    secret_sealed BLOB    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_appid ON webhook (appid);

CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id      INTEGER NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    secret_sealed   BLOB    NOT NULL,
    event           TEXT    NOT NULL,
    message_id      INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_holder    TEXT,
    lease_until     INTEGER,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_webhook ON webhook_outbox (webhook_id);

-- +goose Down
DROP TABLE webhook_outbox;
DROP TABLE webhook;
DROP TABLE schedule;
DROP TABLE broadcast;
