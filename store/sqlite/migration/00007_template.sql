-- The template catalog: each app's templates as last synced from WeChat,
-- and the app's aliases for them. Matches the PostgreSQL migration of the
-- same number. keywords and truncate are JSON arrays the store keeps opaque.
-- A template gone from WeChat is kept, marked deleted (deleted_at set), so
-- messages naming it get a clear error. Both tables go with their app.
-- Times are INTEGER unix microseconds, UTC.

-- +goose Up
CREATE TABLE template (
    appid       TEXT    NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    template_id TEXT    NOT NULL,
    kind        TEXT    NOT NULL,   -- subscribe, template
    title       TEXT    NOT NULL DEFAULT '',
    content     TEXT    NOT NULL DEFAULT '',
    keywords    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(keywords)),
    type        INTEGER NOT NULL DEFAULT 0,
    truncate    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(truncate)),
    synced_at   INTEGER NOT NULL,
    deleted_at  INTEGER,            -- NULL: live on WeChat
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (appid, template_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE template_alias (
    appid       TEXT NOT NULL,
    alias       TEXT NOT NULL,
    template_id TEXT NOT NULL,
    PRIMARY KEY (appid, alias),
    FOREIGN KEY (appid, template_id) REFERENCES template (appid, template_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX template_alias_template ON template_alias (appid, template_id);

-- MessageFailTemplate: the queued and waiting messages of one template.
CREATE INDEX message_template ON message (appid, template_id) WHERE state IN ('queued', 'waiting_credit');

-- +goose Down
DROP INDEX message_template;
DROP TABLE template_alias;
DROP TABLE template;
