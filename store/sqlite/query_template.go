package sqlite

// The SQL of the template catalog. It matches
// store/postgres/query_template.go statement for statement; where it
// differs, a comment says why.

const templateColumns = `appid, template_id, kind, title, content, keywords, type, truncate, synced_at, deleted_at, created_at`

// queryTemplateUpsert inserts a template or updates a listed one, keeping
// its truncation policy and clearing deleted_at. ?9 is 1 when the row was
// deleted or new (RETURNING cannot see the old row, so the caller asks
// first).
const queryTemplateUpsert = `
INSERT INTO template (appid, template_id, kind, title, content, keywords, type, synced_at, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
ON CONFLICT (appid, template_id) DO UPDATE
   SET kind = excluded.kind, title = excluded.title, content = excluded.content,
       keywords = excluded.keywords, type = excluded.type, synced_at = excluded.synced_at,
       deleted_at = NULL`

// queryTemplateLive reports whether a template exists and is not deleted:
// no row, or a row with deleted_at set, means an upsert adds it.
const queryTemplateLive = `SELECT deleted_at IS NULL FROM template WHERE appid = ?1 AND template_id = ?2`

// queryTemplateSyncRemove marks deleted the app's live templates of kind ?2
// that are not in ?3 (a JSON array of ids: SQLite has no array parameters).
const queryTemplateSyncRemove = `
UPDATE template
   SET deleted_at = ?4
 WHERE appid = ?1 AND kind = ?2 AND deleted_at IS NULL
   AND template_id NOT IN (SELECT value FROM json_each(?3))
RETURNING template_id`

const queryTemplateGet = `SELECT ` + templateColumns + ` FROM template WHERE appid = ?1 AND template_id = ?2`

const queryTemplateList = `SELECT ` + templateColumns + ` FROM template WHERE appid = ?1 ORDER BY template_id`

const queryTemplateMarkDeleted = `
UPDATE template SET deleted_at = ?3
 WHERE appid = ?1 AND template_id = ?2 AND deleted_at IS NULL`

const queryTemplateSetTruncate = `UPDATE template SET truncate = ?3 WHERE appid = ?1 AND template_id = ?2`

const queryTemplateAliasSet = `
INSERT INTO template_alias (appid, alias, template_id) VALUES (?1, ?2, ?3)
ON CONFLICT (appid, alias) DO UPDATE SET template_id = excluded.template_id`

const queryTemplateAliasDelete = `DELETE FROM template_alias WHERE appid = ?1 AND alias = ?2`

const queryTemplateAliasList = `SELECT appid, alias, template_id FROM template_alias WHERE appid = ?1 ORDER BY alias`

// queryMessageFailingTemplate selects the messages MessageFailTemplate
// moves, with the credits to refund; the update follows in the same write
// transaction (as MessageExpire does: RETURNING would see credit_id after
// it is cleared).
const queryMessageFailingTemplate = `
SELECT id, credit_id FROM message
 WHERE appid = ?1 AND template_id = ?2 AND state IN ('queued', 'waiting_credit')
 ORDER BY id`

const queryMessageFailTemplate = `
UPDATE message
   SET state = 'failed', last_error = ?2, credit_id = NULL, credit_value = '',
       claimed_by = NULL, lease_until = NULL, updated_at = ?1
 WHERE id IN (SELECT value FROM json_each(?3))`
