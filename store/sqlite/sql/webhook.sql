-- Webhooks and the webhook outbox (store.Executor Webhook*). It matches the
-- PostgreSQL driver statement for statement; where it differs, a comment
-- says why. Claims need no SKIP LOCKED here: SQLite runs one write at a
-- time, so each claim statement sees the previous one's leases.

-- name: WebhookInsert
INSERT INTO webhook (appid, url, secret_sealed, created_at)
VALUES (?1, ?2, ?3, ?4)
RETURNING id;

-- name: WebhookGet
SELECT id, appid, url, secret_sealed, created_at
  FROM webhook
 WHERE id = ?1;

-- name: WebhookList
-- Takes the appids as a JSON array (NULL: every app): SQLite has no array
-- parameters.
SELECT id, appid, url, secret_sealed, created_at
  FROM webhook
 WHERE ?1 IS NULL OR appid IN (SELECT value FROM json_each(?1))
 ORDER BY id;

-- name: WebhookDelete
-- Its outbox rows go with it (ON DELETE CASCADE).
DELETE FROM webhook WHERE id = ?1;

-- name: WebhookAppsWith
-- Which of the apps in ?1 (a JSON array) have a webhook: most outcomes are
-- of apps with none, and one probe spares a statement per event.
SELECT DISTINCT appid FROM webhook WHERE appid IN (SELECT value FROM json_each(?1));

-- name: WebhookOutboxInsert
-- Fans one event out to every webhook of its app.
INSERT INTO webhook_outbox (webhook_id, url, secret_sealed, event, message_id, payload, next_attempt_at, created_at)
SELECT id, url, secret_sealed, ?2, ?3, ?4, ?5, ?5
  FROM webhook
 WHERE appid = ?1
 ORDER BY id;

-- name: WebhookOutboxClaim
-- RETURNING gives no order: the driver sorts.
UPDATE webhook_outbox
   SET lease_holder = ?1, lease_until = ?3, attempts = attempts + 1
 WHERE id IN (SELECT id FROM webhook_outbox
               WHERE state = 'pending' AND next_attempt_at <= ?2
                 AND (lease_until IS NULL OR lease_until <= ?2)
               ORDER BY next_attempt_at, id
               LIMIT ?4)
RETURNING id, webhook_id, url, secret_sealed, event, message_id, payload, state,
          attempts, next_attempt_at, lease_holder, lease_until, last_error, created_at;

-- name: WebhookOutboxDelete
-- A delivered row goes, only for its holder.
DELETE FROM webhook_outbox WHERE id = ?1 AND lease_holder = ?2;

-- name: WebhookOutboxRetry
-- A failed attempt: dead when ?3, else due again at ?4; only for the holder.
UPDATE webhook_outbox
   SET state = CASE WHEN ?3 THEN 'dead' ELSE 'pending' END,
       next_attempt_at = coalesce(?4, next_attempt_at),
       last_error = ?5, lease_holder = NULL, lease_until = NULL
 WHERE id = ?1 AND lease_holder = ?2;

-- name: WebhookOutboxCounts
-- ?1 = 0 counts the rows of every webhook.
SELECT state, count(*) FROM webhook_outbox
 WHERE ?1 = 0 OR webhook_id = ?1
 GROUP BY state;

-- name: WebhookOutboxList
SELECT id, webhook_id, url, secret_sealed, event, message_id, payload, state,
       attempts, next_attempt_at, lease_holder, lease_until, last_error, created_at
  FROM webhook_outbox
 WHERE webhook_id = ?1 AND (?2 = '' OR state = ?2) AND (?3 = 0 OR id < ?3)
 ORDER BY id DESC
 LIMIT ?4;

-- name: WebhookOutboxReplay
-- ?3 is a JSON array of ids, or NULL for every dead row of the webhook.
UPDATE webhook_outbox
   SET state = 'pending', attempts = 0, next_attempt_at = ?2, lease_holder = NULL, lease_until = NULL
 WHERE webhook_id = ?1 AND state = 'dead'
   AND (?3 IS NULL OR id IN (SELECT value FROM json_each(?3)));
