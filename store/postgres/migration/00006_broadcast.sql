-- Broadcasts, recurring schedules, webhooks and the webhook outbox.
--
-- Every table goes with its app (ON DELETE CASCADE), outbox rows with their
-- webhook. spec and message are JSON the store keeps opaque (bytea, so both
-- engines hold the same bytes). A webhook's secret is sealed (AES-GCM)
-- before it reaches the database, and copied, still sealed, into each
-- outbox row with the URL, so a claim needs no join.

-- +goose Up
CREATE TABLE broadcast (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid       text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    template_id text        NOT NULL,
    spec        bytea       NOT NULL,
    state       text        NOT NULL DEFAULT 'accepting',
    accepted    bigint      NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX broadcast_appid ON broadcast (appid);

CREATE TABLE schedule (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid        text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    name         text        NOT NULL,
    cron         text        NOT NULL,
    timezone     text        NOT NULL,
    message      bytea       NOT NULL,
    state        text        NOT NULL,
    next_run_at  timestamptz,
    last_run_at  timestamptz,
    lease_holder text,
    lease_until  timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE INDEX schedule_due ON schedule (next_run_at) WHERE state = 'active';
CREATE INDEX schedule_appid ON schedule (appid);

CREATE TABLE webhook (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appid         text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    url           text        NOT NULL,
    secret_sealed bytea       NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE INDEX webhook_appid ON webhook (appid);

CREATE TABLE webhook_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      bigint      NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    url             text        NOT NULL,
    secret_sealed   bytea       NOT NULL,
    event           text        NOT NULL,
    message_id      bigint      NOT NULL,
    payload         bytea       NOT NULL,
    state           text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_holder    text,
    lease_until     timestamptz,
    last_error      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_webhook ON webhook_outbox (webhook_id);

-- +goose Down
DROP TABLE webhook_outbox;
DROP TABLE webhook;
DROP TABLE schedule;
DROP TABLE broadcast;
