-- The daily send counters (store.Executor DailySend*). Matches the SQLite
-- driver.

-- name: DailySendAdd
-- Each instance writes rows of its own (holder); the driver sorts them,
-- so the concurrent outcome batches of one instance lock them in one order.
INSERT INTO daily_send (appid, day, kind, holder, sent)
SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::bigint[])
ON CONFLICT (appid, day, kind, holder) DO UPDATE SET sent = daily_send.sent + EXCLUDED.sent;

-- name: DailySendList
-- The sum over the instances' rows.
SELECT appid, to_char(day, 'YYYY-MM-DD'), kind, sum(sent)::bigint
  FROM daily_send WHERE day = $1::date GROUP BY appid, day, kind ORDER BY appid, kind;
