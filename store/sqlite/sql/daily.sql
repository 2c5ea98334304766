-- The daily send counters (store.Executor DailySend*). Matches the
-- PostgreSQL driver.

-- name: DailySendAdd
-- ?1 is a JSON array of [appid, day, kind, holder, sent]. WHERE true:
-- SQLite would read ON CONFLICT as the join constraint of the SELECT.
INSERT INTO daily_send (appid, day, kind, holder, sent)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4
  FROM json_each(?1)
 WHERE true
ON CONFLICT (appid, day, kind, holder) DO UPDATE SET sent = sent + excluded.sent;

-- name: DailySendList
-- The sum over the instances' rows.
SELECT appid, day, kind, sum(sent) FROM daily_send WHERE day = ?1 GROUP BY appid, day, kind ORDER BY appid, kind;
