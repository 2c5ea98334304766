-- Recurring schedules (store.Executor Schedule*). It matches the PostgreSQL
-- driver statement for statement; where it differs, a comment says why.
-- Claims need no SKIP LOCKED here: SQLite runs one write at a time, so each
-- claim statement sees the previous one's leases.

-- name: ScheduleInsert
INSERT INTO schedule (appid, name, cron, timezone, message, state, next_run_at, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
RETURNING id;

-- name: ScheduleGet
SELECT id, appid, name, cron, timezone, message, state, next_run_at, last_run_at,
       lease_holder, lease_until, created_at, updated_at
  FROM schedule
 WHERE id = ?1;

-- name: ScheduleList
-- Takes the appids as a JSON array (NULL: every app): SQLite has no array
-- parameters.
SELECT id, appid, name, cron, timezone, message, state, next_run_at, last_run_at,
       lease_holder, lease_until, created_at, updated_at
  FROM schedule
 WHERE ?1 IS NULL OR appid IN (SELECT value FROM json_each(?1))
 ORDER BY id;

-- name: ScheduleSetState
UPDATE schedule
   SET state = ?2, next_run_at = coalesce(?3, next_run_at), updated_at = ?4
 WHERE id = ?1
RETURNING id, appid, name, cron, timezone, message, state, next_run_at, last_run_at,
          lease_holder, lease_until, created_at, updated_at;

-- name: ScheduleDelete
DELETE FROM schedule WHERE id = ?1;

-- name: ScheduleClaimDue
-- RETURNING gives no order: the driver sorts.
UPDATE schedule
   SET lease_holder = ?1, lease_until = ?3
 WHERE id IN (SELECT id FROM schedule
               WHERE state = 'active' AND next_run_at <= ?2
                 AND (lease_until IS NULL OR lease_until <= ?2)
               ORDER BY next_run_at, id
               LIMIT ?4)
RETURNING id, appid, name, cron, timezone, message, state, next_run_at, last_run_at,
          lease_holder, lease_until, created_at, updated_at;

-- name: ScheduleAdvance
-- Compare-and-swap: only for the holder, and only while next_run_at is
-- still the occurrence it claimed.
UPDATE schedule
   SET next_run_at = ?4, last_run_at = ?3, lease_holder = NULL, lease_until = NULL, updated_at = ?5
 WHERE id = ?1 AND lease_holder = ?2 AND next_run_at = ?3;
