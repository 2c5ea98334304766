-- Broadcasts (store.Executor Broadcast*). It matches the PostgreSQL driver
-- statement for statement.

-- name: BroadcastInsert
INSERT INTO broadcast (appid, template_id, spec, state, created_at, updated_at, idempotency_key)
VALUES (?1, ?2, ?3, 'accepting', ?4, ?4, ?5)
RETURNING id;

-- name: BroadcastFinish
-- Changes only an accepting broadcast; the driver tells "not found" from
-- "not accepting" with a second read.
UPDATE broadcast
   SET state = ?2, accepted = ?3, error = ?4, updated_at = ?5, fingerprint = ?6
 WHERE id = ?1 AND state = 'accepting';

-- name: BroadcastGet
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at,
       idempotency_key, fingerprint, counts, finished_at
  FROM broadcast
 WHERE id = ?1;

-- name: BroadcastGetByKey
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at,
       idempotency_key, fingerprint, counts, finished_at
  FROM broadcast
 WHERE appid = ?1 AND idempotency_key = ?2;

-- name: BroadcastList
-- ?1 is a JSON array of appids, or NULL for every app.
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at,
       idempotency_key, fingerprint, counts, finished_at
  FROM broadcast
 WHERE (?1 IS NULL OR appid IN (SELECT value FROM json_each(?1)))
   AND (?2 = '' OR state = ?2)
   AND (?3 = 0 OR id < ?3)
 ORDER BY id DESC
 LIMIT ?4;

-- name: BroadcastFinishDone
-- An accepted broadcast with no message left to send is finished, its
-- messages counted by state. RETURNING gives no order: the driver sorts.
UPDATE broadcast
   SET state = 'finished',
       counts = CAST((SELECT json_group_object(state, n)
                        FROM (SELECT state, count(*) AS n FROM message
                               WHERE message.broadcast_id = broadcast.id GROUP BY state)) AS BLOB),
       finished_at = ?1, updated_at = ?1
 WHERE state = 'accepted'
   AND NOT EXISTS (SELECT 1 FROM message
                    WHERE message.broadcast_id = broadcast.id
                      AND message.state IN ('queued', 'waiting_credit', 'sending'))
RETURNING id;

-- name: BroadcastAbortStale
-- Ends uploads a crash cut short: Accepted becomes the messages actually
-- stored for them.
UPDATE broadcast
   SET state = 'aborted',
       accepted = (SELECT count(*) FROM message WHERE message.broadcast_id = broadcast.id),
       error = 'the upload was interrupted (the service stopped); the recipients stored before it are sent, the rest must be sent again',
       updated_at = ?2
 WHERE state = 'accepting' AND created_at < ?1;
