-- Broadcasts (store/broadcast.go). Matches the SQLite driver statement for
-- statement.

-- name: BroadcastInsert
INSERT INTO broadcast (appid, template_id, spec, state, created_at, updated_at)
VALUES ($1, $2, $3, 'accepting', $4, $4)
RETURNING id;

-- name: BroadcastFinish
UPDATE broadcast
   SET state = $2, accepted = $3, error = $4, updated_at = $5
 WHERE id = $1 AND state = 'accepting';

-- name: BroadcastGet
SELECT id, appid, template_id, spec, state, accepted, error, created_at, updated_at
  FROM broadcast
 WHERE id = $1;

-- name: BroadcastAbortStale
-- Ends uploads a crash cut short (store.Executor.BroadcastAbortStale).
UPDATE broadcast
   SET state = 'aborted',
       accepted = (SELECT count(*) FROM message WHERE message.broadcast_id = broadcast.id),
       error = 'the upload was interrupted (the service stopped); the recipients stored before it are sent, the rest must be sent again',
       updated_at = $2
 WHERE state = 'accepting' AND created_at < $1;
