-- The template catalog (store.Executor Template*). It matches the
-- PostgreSQL driver statement for statement; where it differs, a comment
-- says why.

-- name: TemplateUpsert
-- Inserts a template or updates a listed one, keeping its truncation policy
-- and clearing deleted_at. Whether it was added (new, or deleted before)
-- comes from TemplateLive, asked first: RETURNING cannot see the old row.
INSERT INTO template (appid, template_id, kind, title, content, keywords, type, synced_at, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
ON CONFLICT (appid, template_id) DO UPDATE
   SET kind = excluded.kind, title = excluded.title, content = excluded.content,
       keywords = excluded.keywords, type = excluded.type, synced_at = excluded.synced_at,
       deleted_at = NULL;

-- name: TemplateLive
-- Whether a template exists and is not deleted: no row, or a row with
-- deleted_at set, means an upsert adds it.
SELECT deleted_at IS NULL FROM template WHERE appid = ?1 AND template_id = ?2;

-- name: TemplateSyncRemove
-- Marks deleted the app's live templates of kind ?2 that are not in ?3 (a
-- JSON array of ids: SQLite has no array parameters).
UPDATE template
   SET deleted_at = ?4
 WHERE appid = ?1 AND kind = ?2 AND deleted_at IS NULL
   AND template_id NOT IN (SELECT value FROM json_each(?3))
RETURNING template_id;

-- name: TemplateGet
SELECT appid, template_id, kind, title, content, keywords, type, truncate, synced_at, deleted_at, created_at
  FROM template
 WHERE appid = ?1 AND template_id = ?2;

-- name: TemplateList
SELECT appid, template_id, kind, title, content, keywords, type, truncate, synced_at, deleted_at, created_at
  FROM template
 WHERE appid = ?1
 ORDER BY template_id;

-- name: TemplateMarkDeleted
UPDATE template
   SET deleted_at = ?3
 WHERE appid = ?1 AND template_id = ?2 AND deleted_at IS NULL;

-- name: TemplateSetTruncate
UPDATE template SET truncate = ?3 WHERE appid = ?1 AND template_id = ?2;

-- name: TemplateAliasSet
INSERT INTO template_alias (appid, alias, template_id) VALUES (?1, ?2, ?3)
ON CONFLICT (appid, alias) DO UPDATE SET template_id = excluded.template_id;

-- name: TemplateAliasDelete
DELETE FROM template_alias WHERE appid = ?1 AND alias = ?2;

-- name: TemplateAliasList
SELECT appid, alias, template_id
  FROM template_alias
 WHERE appid = ?1
 ORDER BY alias;
