-- The dashboard's history (store.Executor History*). Times are unix
-- microseconds, so a minute is 60000000. Matches the PostgreSQL driver.

-- name: HistoryCountOutcomes
-- The state list is spelled as in the message_ended index (00010).
SELECT updated_at / 60000000 * 60000000 AS minute, state, count(*)
  FROM message
 WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous')
   AND updated_at >= ?1 AND updated_at < ?2
 GROUP BY minute, state
 ORDER BY minute, state;

-- name: HistoryCountErrcodes
SELECT at / 60000000 * 60000000 AS minute, CAST(errcode AS TEXT) AS code, count(*)
  FROM attempt
 WHERE errcode <> 0 AND at >= ?1 AND at < ?2
 GROUP BY minute, errcode
 ORDER BY minute, code;

-- name: HistoryUpsertMany
-- ?1 is a JSON array of [resolution, series, bucket, key, value]. WHERE
-- true: SQLite would read ON CONFLICT as the join constraint of the SELECT.
INSERT INTO history (resolution, series, bucket, key, value)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4
  FROM json_each(?1)
 WHERE true
ON CONFLICT (resolution, series, bucket, key) DO UPDATE SET value = excluded.value;

-- name: HistoryDelete
-- ?2 is a JSON array of series, or NULL for every series.
DELETE FROM history
 WHERE resolution = ?1
   AND (?2 IS NULL OR series IN (SELECT value FROM json_each(?2)))
   AND bucket >= ?3 AND bucket < ?4;

-- name: HistoryList
SELECT resolution, series, bucket, key, value
  FROM history
 WHERE resolution = ?1
   AND (?2 IS NULL OR series IN (SELECT value FROM json_each(?2)))
   AND bucket >= ?3 AND bucket < ?4
 ORDER BY bucket, series, key;
