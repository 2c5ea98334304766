-- The template catalog and its aliases (store/template.go). Matches the
-- SQLite driver statement for statement; where a statement differs, a
-- comment says why.

-- name: TemplateLive
-- Locks the row, if any, so the caller's upsert and its report of "added"
-- agree under concurrent syncs.
SELECT deleted_at IS NULL FROM template WHERE appid = $1 AND template_id = $2 FOR UPDATE;

-- name: TemplateUpsert
-- A listed template: inserted, or updated keeping its truncate policy and
-- no longer deleted.
INSERT INTO template (appid, template_id, kind, title, content, keywords, type, synced_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (appid, template_id) DO UPDATE
   SET kind = excluded.kind, title = excluded.title, content = excluded.content,
       keywords = excluded.keywords, type = excluded.type, synced_at = excluded.synced_at,
       deleted_at = NULL;

-- name: TemplateSyncRemove
-- Every other template of the app and kind, not deleted yet, is marked
-- deleted now.
UPDATE template
   SET deleted_at = $4
 WHERE appid = $1 AND kind = $2 AND deleted_at IS NULL
   AND template_id <> ALL ($3::text[])
RETURNING template_id;

-- name: TemplateGet
SELECT appid, template_id, kind, title, content, keywords, type, truncate, synced_at, deleted_at, created_at
  FROM template
 WHERE appid = $1 AND template_id = $2;

-- name: TemplateList
SELECT appid, template_id, kind, title, content, keywords, type, truncate, synced_at, deleted_at, created_at
  FROM template
 WHERE appid = $1
 ORDER BY template_id;

-- name: TemplateMarkDeleted
UPDATE template SET deleted_at = $3
 WHERE appid = $1 AND template_id = $2 AND deleted_at IS NULL;

-- name: TemplateSetTruncate
UPDATE template SET truncate = $3 WHERE appid = $1 AND template_id = $2;

-- name: TemplateAliasSet
INSERT INTO template_alias (appid, alias, template_id) VALUES ($1, $2, $3)
ON CONFLICT (appid, alias) DO UPDATE SET template_id = excluded.template_id;

-- name: TemplateAliasDelete
DELETE FROM template_alias WHERE appid = $1 AND alias = $2;

-- name: TemplateAliasList
SELECT appid, alias, template_id
  FROM template_alias
 WHERE appid = $1
 ORDER BY alias;
