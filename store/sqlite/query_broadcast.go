package sqlite

// The SQL of the broadcast, schedule and webhook methods. It matches
// store/postgres/query_broadcast.go statement for statement; where it
// differs, a comment says why. Claims need no SKIP LOCKED here: SQLite runs
// one write at a time, so each claim statement sees the previous one's
// leases.

const broadcastColumns = `id, appid, template_id, spec, state, accepted, error, created_at, updated_at`

const queryBroadcastInsert = `
INSERT INTO broadcast (appid, template_id, spec, state, created_at, updated_at)
VALUES (?1, ?2, ?3, 'accepting', ?4, ?4)
RETURNING id`

// queryBroadcastFinish changes only an accepting broadcast; the caller tells
// "not found" from "not accepting" with a second read.
const queryBroadcastFinish = `
UPDATE broadcast
   SET state = ?2, accepted = ?3, error = ?4, updated_at = ?5
 WHERE id = ?1 AND state = 'accepting'`

const queryBroadcastGet = `SELECT ` + broadcastColumns + ` FROM broadcast WHERE id = ?1`

const scheduleColumns = `id, appid, name, cron, timezone, message, state, next_run_at, last_run_at,
	lease_holder, lease_until, created_at, updated_at`

const queryScheduleInsert = `
INSERT INTO schedule (appid, name, cron, timezone, message, state, next_run_at, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
RETURNING id`

const queryScheduleGet = `SELECT ` + scheduleColumns + ` FROM schedule WHERE id = ?1`

// queryScheduleList takes the appids as a JSON array (NULL: every app):
// SQLite has no array parameters.
const queryScheduleList = `
SELECT ` + scheduleColumns + ` FROM schedule
 WHERE ?1 IS NULL OR appid IN (SELECT value FROM json_each(?1))
 ORDER BY id`

const queryScheduleSetState = `
UPDATE schedule
   SET state = ?2, next_run_at = coalesce(?3, next_run_at), updated_at = ?4
 WHERE id = ?1
RETURNING ` + scheduleColumns

const queryScheduleDelete = `DELETE FROM schedule WHERE id = ?1`

const queryScheduleClaimDue = `
UPDATE schedule
   SET lease_holder = ?1, lease_until = ?3
 WHERE id IN (SELECT id FROM schedule
               WHERE state = 'active' AND next_run_at <= ?2
                 AND (lease_until IS NULL OR lease_until <= ?2)
               ORDER BY next_run_at, id
               LIMIT ?4)
RETURNING ` + scheduleColumns

const queryScheduleAdvance = `
UPDATE schedule
   SET next_run_at = ?4, last_run_at = ?3, lease_holder = NULL, lease_until = NULL, updated_at = ?5
 WHERE id = ?1 AND lease_holder = ?2 AND next_run_at = ?3`

const webhookColumns = `id, appid, url, secret_sealed, created_at`

const queryWebhookInsert = `
INSERT INTO webhook (appid, url, secret_sealed, created_at)
VALUES (?1, ?2, ?3, ?4)
RETURNING id`

const queryWebhookGet = `SELECT ` + webhookColumns + ` FROM webhook WHERE id = ?1`

const queryWebhookList = `
SELECT ` + webhookColumns + ` FROM webhook
 WHERE ?1 IS NULL OR appid IN (SELECT value FROM json_each(?1))
 ORDER BY id`

const queryWebhookDelete = `DELETE FROM webhook WHERE id = ?1`

const webhookOutboxColumns = `id, webhook_id, url, secret_sealed, event, message_id, payload, state,
	attempts, next_attempt_at, lease_holder, lease_until, last_error, created_at`

// queryWebhookOutboxInsert fans one event out to every webhook of its app.
const queryWebhookOutboxInsert = `
INSERT INTO webhook_outbox (webhook_id, url, secret_sealed, event, message_id, payload, next_attempt_at, created_at)
SELECT id, url, secret_sealed, ?2, ?3, ?4, ?5, ?5
  FROM webhook
 WHERE appid = ?1
 ORDER BY id`

const queryWebhookOutboxClaim = `
UPDATE webhook_outbox
   SET lease_holder = ?1, lease_until = ?3, attempts = attempts + 1
 WHERE id IN (SELECT id FROM webhook_outbox
               WHERE state = 'pending' AND next_attempt_at <= ?2
                 AND (lease_until IS NULL OR lease_until <= ?2)
               ORDER BY next_attempt_at, id
               LIMIT ?4)
RETURNING ` + webhookOutboxColumns

const queryWebhookOutboxDelete = `DELETE FROM webhook_outbox WHERE id = ?1 AND lease_holder = ?2`

const queryWebhookOutboxRetry = `
UPDATE webhook_outbox
   SET state = CASE WHEN ?3 THEN 'dead' ELSE 'pending' END,
       next_attempt_at = coalesce(?4, next_attempt_at),
       last_error = ?5, lease_holder = NULL, lease_until = NULL
 WHERE id = ?1 AND lease_holder = ?2`

const queryWebhookOutboxCounts = `
SELECT state, count(*) FROM webhook_outbox
 WHERE ?1 = 0 OR webhook_id = ?1
 GROUP BY state`

// queryBroadcastAbortStale ends uploads a crash cut short (store.BroadcastAbortStale).
const queryBroadcastAbortStale = `
UPDATE broadcast
   SET state = 'aborted',
       accepted = (SELECT count(*) FROM message WHERE message.broadcast_id = broadcast.id),
       error = 'the upload was interrupted (the service stopped); the recipients stored before it are sent, the rest must be sent again',
       updated_at = ?2
 WHERE state = 'accepting' AND created_at < ?1`
