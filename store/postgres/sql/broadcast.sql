-- Broadcasts (store/broadcast.go). Matches the SQLite driver statement for
-- statement.

-- name: BroadcastInsert
INSERT INTO broadcast (appid, template_id, spec, state, created_at, updated_at, idempotency_key)
VALUES ($1, $2, $3, 'accepting', $4, $4, $5)
RETURNING id;

-- name: BroadcastFinish
UPDATE broadcast
   SET state = $2, accepted = $3, error = $4, updated_at = $5, fingerprint = $6
 WHERE id = $1 AND state = 'accepting';

-- name: BroadcastGet
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at,
       idempotency_key, fingerprint, counts, finished_at
  FROM broadcast
 WHERE id = $1;

-- name: BroadcastGetByKey
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at,
       idempotency_key, fingerprint, counts, finished_at
  FROM broadcast
 WHERE appid = $1 AND idempotency_key = $2;

-- name: BroadcastList
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at,
       idempotency_key, fingerprint, counts, finished_at
  FROM broadcast
 WHERE ($1::text[] IS NULL OR appid = ANY ($1::text[]))
   AND ($2::text = '' OR state = $2::text)
   AND ($3::bigint = 0 OR id < $3::bigint)
 ORDER BY id DESC
 LIMIT $4;

-- name: BroadcastFinishDone
-- An accepted broadcast with no message left to send is finished, its
-- messages counted by state (store.Executor.BroadcastFinishDone).
UPDATE broadcast b
   SET state = 'finished',
       counts = convert_to((SELECT coalesce(jsonb_object_agg(c.state, c.n), '{}'::jsonb)::text
                              FROM (SELECT m.state, count(*) AS n FROM message m
                                     WHERE m.broadcast_id = b.id GROUP BY m.state) c), 'UTF8'),
       finished_at = $1, updated_at = $1
 WHERE b.state = 'accepted'
   AND NOT EXISTS (SELECT 1 FROM message m
                    WHERE m.broadcast_id = b.id
                      AND m.state IN ('queued', 'waiting_credit', 'sending'))
RETURNING b.id;

-- name: BroadcastAbortStale
-- Ends uploads a crash cut short (store.Executor.BroadcastAbortStale).
UPDATE broadcast
   SET state = 'aborted',
       accepted = (SELECT count(*) FROM message WHERE message.broadcast_id = broadcast.id),
       error = 'the upload was interrupted (the service stopped); the recipients stored before it are sent, the rest must be sent again',
       updated_at = $2
 WHERE state = 'accepting' AND created_at < $1;
