package postgres

// The SQL of the broadcast, schedule and webhook methods. It matches
// store/sqlite/query_broadcast.go statement for statement; where it differs,
// a comment says why.

const broadcastColumns = `id, appid, template_id, spec, state, accepted, error, created_at, updated_at`

const queryBroadcastInsert = `
INSERT INTO broadcast (appid, template_id, spec, state, created_at, updated_at)
VALUES ($1, $2, $3, 'accepting', $4, $4)
RETURNING id`

const queryBroadcastFinish = `
UPDATE broadcast
   SET state = $2, accepted = $3, error = $4, updated_at = $5
 WHERE id = $1 AND state = 'accepting'`

const queryBroadcastGet = `SELECT ` + broadcastColumns + ` FROM broadcast WHERE id = $1`

const scheduleColumns = `id, appid, name, cron, timezone, message, state, next_run_at, last_run_at,
	lease_holder, lease_until, created_at, updated_at`

const queryScheduleInsert = `
INSERT INTO schedule (appid, name, cron, timezone, message, state, next_run_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
RETURNING id`

const queryScheduleGet = `SELECT ` + scheduleColumns + ` FROM schedule WHERE id = $1`

const queryScheduleList = `
SELECT ` + scheduleColumns + ` FROM schedule
 WHERE $1::text[] IS NULL OR appid = ANY ($1::text[])
 ORDER BY id`

const queryScheduleSetState = `
UPDATE schedule
   SET state = $2, next_run_at = coalesce($3, next_run_at), updated_at = $4
 WHERE id = $1
RETURNING ` + scheduleColumns

const queryScheduleDelete = `DELETE FROM schedule WHERE id = $1`

// queryScheduleClaimDue differs from SQLite's by FOR UPDATE SKIP LOCKED:
// concurrent claimers skip each other's rows instead of waiting, and a row
// whose lock is released re-checks the WHERE against the committed lease.
const queryScheduleClaimDue = `
UPDATE schedule
   SET lease_holder = $1, lease_until = $3
 WHERE id IN (SELECT id FROM schedule
               WHERE state = 'active' AND next_run_at <= $2
                 AND (lease_until IS NULL OR lease_until <= $2)
               ORDER BY next_run_at, id
               LIMIT $4
               FOR UPDATE SKIP LOCKED)
   AND state = 'active' AND next_run_at <= $2
   AND (lease_until IS NULL OR lease_until <= $2)
RETURNING ` + scheduleColumns

const queryScheduleAdvance = `
UPDATE schedule
   SET next_run_at = $4, last_run_at = $3, lease_holder = NULL, lease_until = NULL, updated_at = $5
 WHERE id = $1 AND lease_holder = $2 AND next_run_at = $3`

const webhookColumns = `id, appid, url, secret_sealed, created_at`

const queryWebhookInsert = `
INSERT INTO webhook (appid, url, secret_sealed, created_at)
VALUES ($1, $2, $3, $4)
RETURNING id`

const queryWebhookGet = `SELECT ` + webhookColumns + ` FROM webhook WHERE id = $1`

const queryWebhookList = `
SELECT ` + webhookColumns + ` FROM webhook
 WHERE $1::text[] IS NULL OR appid = ANY ($1::text[])
 ORDER BY id`

const queryWebhookDelete = `DELETE FROM webhook WHERE id = $1`

const webhookOutboxColumns = `id, webhook_id, url, secret_sealed, event, message_id, payload, state,
	attempts, next_attempt_at, lease_holder, lease_until, last_error, created_at`

// queryWebhookOutboxInsert fans every event out to every webhook of its app
// in one statement (SQLite runs one statement per event in a transaction).
const queryWebhookOutboxInsert = `
INSERT INTO webhook_outbox (webhook_id, url, secret_sealed, event, message_id, payload, next_attempt_at, created_at)
SELECT w.id, w.url, w.secret_sealed, e.event, e.message_id, e.payload, e.at, e.at
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::timestamptz[])
       WITH ORDINALITY AS e (appid, event, message_id, payload, at, ord)
  JOIN webhook w ON w.appid = e.appid
 ORDER BY e.ord, w.id`

const queryWebhookOutboxClaim = `
UPDATE webhook_outbox
   SET lease_holder = $1, lease_until = $3, attempts = attempts + 1
 WHERE id IN (SELECT id FROM webhook_outbox
               WHERE state = 'pending' AND next_attempt_at <= $2
                 AND (lease_until IS NULL OR lease_until <= $2)
               ORDER BY next_attempt_at, id
               LIMIT $4
               FOR UPDATE SKIP LOCKED)
   AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $2)
RETURNING ` + webhookOutboxColumns

const queryWebhookOutboxDelete = `DELETE FROM webhook_outbox WHERE id = $1 AND lease_holder = $2`

const queryWebhookOutboxRetry = `
UPDATE webhook_outbox
   SET state = CASE WHEN $3 THEN 'dead' ELSE 'pending' END,
       next_attempt_at = coalesce($4, next_attempt_at),
       last_error = $5, lease_holder = NULL, lease_until = NULL
 WHERE id = $1 AND lease_holder = $2`

const queryWebhookOutboxCounts = `
SELECT state, count(*) FROM webhook_outbox
 WHERE $1::bigint = 0 OR webhook_id = $1::bigint
 GROUP BY state`

// queryBroadcastAbortStale ends uploads a crash cut short (store.BroadcastAbortStale).
const queryBroadcastAbortStale = `
UPDATE broadcast
   SET state = 'aborted',
       accepted = (SELECT count(*) FROM message WHERE message.broadcast_id = broadcast.id),
       error = 'the upload was interrupted (the service stopped); the recipients stored before it are sent, the rest must be sent again',
       updated_at = $2
 WHERE state = 'accepting' AND created_at < $1`
