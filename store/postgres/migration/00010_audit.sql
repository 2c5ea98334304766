-- The operators' audit log (wxnotify.AuditEntry) and the dashboard's
-- history: per-minute and per-hour values rolled up from the message and
-- attempt tables by the history_rollup job and pruned by message_retention
-- (package history), so every instance shows the same charts, across
-- restarts. Matches the SQLite migration of the same number.

-- +goose Up
CREATE TABLE audit (
    id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text        NOT NULL,
    action text        NOT NULL,
    appid  text        NOT NULL DEFAULT '',  -- no foreign key: the log outlives its app
    target text        NOT NULL,
    detail text        NOT NULL DEFAULT ''
);
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_appid ON audit (appid, id);

CREATE TABLE history (
    resolution integer     NOT NULL,  -- seconds: 60 or 3600
    series     text        NOT NULL,
    bucket     timestamptz NOT NULL,  -- the bucket's start
    key        text        NOT NULL,
    value      bigint      NOT NULL,
    PRIMARY KEY (resolution, series, bucket, key)
);

-- The rollup's counts of recent outcomes and errcodes; the first also
-- serves the retention purge.
CREATE INDEX message_ended ON message (updated_at)
    WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous');
CREATE INDEX attempt_at ON attempt (at) WHERE errcode <> 0;

-- +goose Down
DROP INDEX attempt_at;
DROP INDEX message_ended;
DROP TABLE history;
DROP TABLE audit;
