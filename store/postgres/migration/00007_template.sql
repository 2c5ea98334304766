-- The template catalog: each app's templates as last synced from WeChat,
-- and the app's aliases for them. Matches the SQLite migration of the same
-- number. keywords and truncate are JSON arrays the store keeps opaque
-- (jsonb). A template gone from WeChat is kept, marked deleted (deleted_at
-- set), so messages naming it get a clear error. Both tables go with their
-- app.

-- +goose Up
CREATE TABLE template (
    appid       text        NOT NULL REFERENCES app (appid) ON DELETE CASCADE,
    template_id text        NOT NULL,
    kind        text        NOT NULL,   -- subscribe, template
    title       text        NOT NULL DEFAULT '',
    content     text        NOT NULL DEFAULT '',
    keywords    jsonb       NOT NULL DEFAULT '[]',
    type        integer     NOT NULL DEFAULT 0,
    truncate    jsonb       NOT NULL DEFAULT '[]',
    synced_at   timestamptz NOT NULL,
    deleted_at  timestamptz,            -- NULL: live on WeChat
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (appid, template_id)
);

CREATE TABLE template_alias (
    appid       text NOT NULL,
    alias       text NOT NULL,
    template_id text NOT NULL,
    PRIMARY KEY (appid, alias),
    FOREIGN KEY (appid, template_id) REFERENCES template (appid, template_id) ON DELETE CASCADE
);

CREATE INDEX template_alias_template ON template_alias (appid, template_id);

-- MessageFailTemplate: the queued and waiting messages of one template.
CREATE INDEX message_template ON message (appid, template_id) WHERE state IN ('queued', 'waiting_credit');

-- +goose Down
DROP INDEX message_template;
DROP TABLE template_alias;
DROP TABLE template;
