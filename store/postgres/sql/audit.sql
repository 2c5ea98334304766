-- The audit log (store.Executor Audit*). Matches the SQLite driver.

-- name: AuditInsert
INSERT INTO audit (at, actor, action, appid, target, detail)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING id;

-- name: AuditList
-- $1 action, $2 appid ('' for any), $3 before id (0: none), $4 limit.
SELECT id, at, actor, action, appid, target, detail
  FROM audit
 WHERE ($1::text = '' OR action = $1)
   AND ($2::text = '' OR appid = $2)
   AND ($3::bigint = 0 OR id < $3)
 ORDER BY id DESC
 LIMIT $4;
