-- Webhooks and the webhook outbox (store/broadcast.go). Matches the SQLite
-- driver statement for statement; where a statement differs, a comment
-- says why.

-- name: WebhookInsert
INSERT INTO webhook (appid, url, secret_sealed, created_at)
VALUES ($1, $2, $3, $4)
RETURNING id;

-- name: WebhookGet
SELECT id, appid, url, secret_sealed, created_at
  FROM webhook
 WHERE id = $1;

-- name: WebhookList
SELECT id, appid, url, secret_sealed, created_at
  FROM webhook
 WHERE $1::text[] IS NULL OR appid = ANY ($1::text[])
 ORDER BY id;

-- name: WebhookDelete
-- Its outbox rows go with it (ON DELETE CASCADE).
DELETE FROM webhook WHERE id = $1;

-- name: WebhookOutboxInsertMany
-- Fans every event out to every webhook of its app in one statement
-- (SQLite runs one statement per event in a transaction).
INSERT INTO webhook_outbox (webhook_id, url, secret_sealed, event, message_id, payload, next_attempt_at, created_at)
SELECT w.id, w.url, w.secret_sealed, e.event, e.message_id, e.payload, e.at, e.at
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::timestamptz[])
       WITH ORDINALITY AS e (appid, event, message_id, payload, at, ord)
  JOIN webhook w ON w.appid = e.appid
 ORDER BY e.ord, w.id;

-- name: WebhookOutboxClaim
-- FOR UPDATE SKIP LOCKED as in ScheduleClaimDue. RETURNING has no order:
-- the driver sorts.
UPDATE webhook_outbox
   SET lease_holder = $1, lease_until = $3, attempts = attempts + 1
 WHERE id IN (SELECT id FROM webhook_outbox
               WHERE state = 'pending' AND next_attempt_at <= $2
                 AND (lease_until IS NULL OR lease_until <= $2)
               ORDER BY next_attempt_at, id
               LIMIT $4
               FOR UPDATE SKIP LOCKED)
   AND state = 'pending' AND (lease_until IS NULL OR lease_until <= $2)
RETURNING id, webhook_id, url, secret_sealed, event, message_id, payload, state,
          attempts, next_attempt_at, lease_holder, lease_until, last_error, created_at;

-- name: WebhookOutboxDelete
-- A delivered row, only while the holder holds it.
DELETE FROM webhook_outbox WHERE id = $1 AND lease_holder = $2;

-- name: WebhookOutboxRetry
-- A failed attempt, only while the holder holds it: dead ($3) for good, or
-- pending again at $4.
UPDATE webhook_outbox
   SET state = CASE WHEN $3 THEN 'dead' ELSE 'pending' END,
       next_attempt_at = coalesce($4, next_attempt_at),
       last_error = $5, lease_holder = NULL, lease_until = NULL
 WHERE id = $1 AND lease_holder = $2;

-- name: WebhookOutboxCounts
SELECT state, count(*) FROM webhook_outbox
 WHERE $1::bigint = 0 OR webhook_id = $1::bigint
 GROUP BY state;

-- name: WebhookOutboxList
SELECT id, webhook_id, url, secret_sealed, event, message_id, payload, state,
       attempts, next_attempt_at, lease_holder, lease_until, last_error, created_at
  FROM webhook_outbox
 WHERE webhook_id = $1 AND ($2::text = '' OR state = $2::text) AND ($3::bigint = 0 OR id < $3::bigint)
 ORDER BY id DESC
 LIMIT $4;

-- name: WebhookOutboxReplay
-- $3 NULL replays every dead row of the webhook.
UPDATE webhook_outbox
   SET state = 'pending', attempts = 0, next_attempt_at = $2, lease_holder = NULL, lease_until = NULL
 WHERE webhook_id = $1 AND state = 'dead'
   AND ($3::bigint[] IS NULL OR id = ANY ($3::bigint[]));
