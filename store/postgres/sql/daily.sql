-- The daily send counters (store.Executor DailySend*). Matches the SQLite
-- driver.

-- name: DailySendAdd
-- The rows come sorted by (appid, kind) from the driver, so concurrent
-- outcomes of several instances lock the counters in one order.
INSERT INTO daily_send (appid, day, kind, sent)
SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[])
ON CONFLICT (appid, day, kind) DO UPDATE SET sent = daily_send.sent + EXCLUDED.sent;

-- name: DailySendList
SELECT appid, to_char(day, 'YYYY-MM-DD'), kind, sent FROM daily_send WHERE day = $1::date ORDER BY appid, kind;
