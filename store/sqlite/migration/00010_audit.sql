-- The operators' audit log (wxnotify.AuditEntry) and the dashboard's
-- history: per-minute and per-hour values rolled up from the message and
-- attempt tables by the history_rollup job and pruned by message_retention
-- (package history), so every instance shows the same charts, across
-- restarts. Matches the PostgreSQL migration of the same number.

-- +goose Up
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    appid  TEXT    NOT NULL DEFAULT '',  -- no foreign key: the log outlives its app
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_action ON audit (action, id);
CREATE INDEX audit_appid ON audit (appid, id);

CREATE TABLE history (
    resolution INTEGER NOT NULL,  -- seconds: 60 or 3600
    series     TEXT    NOT NULL,
    bucket     INTEGER NOT NULL,  -- the bucket's start
    key        TEXT    NOT NULL,
    value      INTEGER NOT NULL,
    PRIMARY KEY (resolution, series, bucket, key)
) STRICT, WITHOUT ROWID;

-- The rollup's counts of recent outcomes and errcodes. The predicate is
-- spelled as in HistoryCountOutcomes so the planner matches it; it also
-- serves the retention purge.
CREATE INDEX message_ended ON message (updated_at)
    WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous');
CREATE INDEX attempt_at ON attempt (at) WHERE errcode <> 0;

-- +goose Down
DROP INDEX attempt_at;
DROP INDEX message_ended;
DROP TABLE history;
DROP TABLE audit;
