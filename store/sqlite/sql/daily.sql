-- The daily send counters (store.Executor DailySend*). Matches the
-- PostgreSQL driver.

-- name: DailySendAdd
-- ?1 is a JSON array of [appid, day, kind, sent]. WHERE true: SQLite would
-- read ON CONFLICT as the join constraint of the SELECT.
INSERT INTO daily_send (appid, day, kind, sent)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3
  FROM json_each(?1)
 WHERE true
ON CONFLICT (appid, day, kind) DO UPDATE SET sent = sent + excluded.sent;

-- name: DailySendList
SELECT appid, day, kind, sent FROM daily_send WHERE day = ?1 ORDER BY appid, kind;
