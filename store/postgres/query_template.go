package postgres

// The SQL of the template catalog. It matches
// store/sqlite/query_template.go statement for statement; where it differs,
// a comment says why.

const templateColumns = `appid, template_id, kind, title, content, keywords, type, truncate, synced_at, deleted_at, created_at`

// queryTemplateLive locks the row, if any, so the caller's upsert and its
// report of "added" agree under concurrent syncs.
const queryTemplateLive = `SELECT deleted_at IS NULL FROM template WHERE appid = $1 AND template_id = $2 FOR UPDATE`

const queryTemplateUpsert = `
INSERT INTO template (appid, template_id, kind, title, content, keywords, type, synced_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (appid, template_id) DO UPDATE
   SET kind = excluded.kind, title = excluded.title, content = excluded.content,
       keywords = excluded.keywords, type = excluded.type, synced_at = excluded.synced_at,
       deleted_at = NULL`

const queryTemplateSyncRemove = `
UPDATE template
   SET deleted_at = $4
 WHERE appid = $1 AND kind = $2 AND deleted_at IS NULL
   AND template_id <> ALL ($3::text[])
RETURNING template_id`

const queryTemplateGet = `SELECT ` + templateColumns + ` FROM template WHERE appid = $1 AND template_id = $2`

const queryTemplateList = `SELECT ` + templateColumns + ` FROM template WHERE appid = $1 ORDER BY template_id`

const queryTemplateMarkDeleted = `
UPDATE template SET deleted_at = $3
 WHERE appid = $1 AND template_id = $2 AND deleted_at IS NULL`

const queryTemplateSetTruncate = `UPDATE template SET truncate = $3 WHERE appid = $1 AND template_id = $2`

const queryTemplateAliasSet = `
INSERT INTO template_alias (appid, alias, template_id) VALUES ($1, $2, $3)
ON CONFLICT (appid, alias) DO UPDATE SET template_id = excluded.template_id`

const queryTemplateAliasDelete = `DELETE FROM template_alias WHERE appid = $1 AND alias = $2`

const queryTemplateAliasList = `SELECT appid, alias, template_id FROM template_alias WHERE appid = $1 ORDER BY alias`

// queryMessageFailTemplate fails the template's queued and waiting
// messages and returns the credits they held, for the refunds. Differs from
// SQLite (a SELECT, then an UPDATE): the locking subquery returns the
// credits as they were before the update. It waits for rows a claim has
// locked rather than skipping them (a skipped row would stay queued for a
// deleted template), and re-checks their state once the claim commits.
const queryMessageFailTemplate = `
WITH f AS (
    SELECT id, credit_id FROM message
     WHERE appid = $1 AND template_id = $2 AND state IN ('queued', 'waiting_credit')
     ORDER BY id
       FOR UPDATE
)
UPDATE message m
   SET state = 'failed', last_error = $3, credit_id = NULL, credit_value = '',
       claimed_by = NULL, lease_until = NULL, updated_at = $4
  FROM f
 WHERE m.id = f.id
RETURNING m.id, f.credit_id`
