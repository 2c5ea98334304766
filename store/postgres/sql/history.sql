-- The dashboard's history (store.Executor History*). Matches the SQLite
-- driver.

-- name: HistoryCountOutcomes
-- The state list is spelled as in the message_ended index (00010).
SELECT date_trunc('minute', updated_at, 'UTC') AS minute, state, count(*)
  FROM message
 WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous')
   AND updated_at >= $1 AND updated_at < $2
 GROUP BY minute, state
 ORDER BY minute, state;

-- name: HistoryCountErrcodes
SELECT date_trunc('minute', at, 'UTC') AS minute, errcode::text AS code, count(*)
  FROM attempt
 WHERE errcode <> 0 AND at >= $1 AND at < $2
 GROUP BY minute, errcode
 ORDER BY minute, code;

-- name: HistoryUpsertMany
-- The rows come sorted by their key from the driver, so instances rolling
-- up the same minutes at once lock them in one order.
INSERT INTO history (resolution, series, bucket, key, value)
SELECT * FROM unnest($1::integer[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[])
ON CONFLICT (resolution, series, bucket, key) DO UPDATE SET value = EXCLUDED.value;

-- name: HistoryDelete
DELETE FROM history
 WHERE resolution = $1
   AND ($2::text[] IS NULL OR series = ANY ($2::text[]))
   AND bucket >= $3 AND bucket < $4;

-- name: HistoryList
SELECT resolution, series, bucket, key, value
  FROM history
 WHERE resolution = $1
   AND ($2::text[] IS NULL OR series = ANY ($2::text[]))
   AND bucket >= $3 AND bucket < $4
 ORDER BY bucket, series, key;
