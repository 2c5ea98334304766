-- The app's access-token row and its refresh lease (store.Executor Token*).

-- name: TokenGet
SELECT appid, value_sealed, expires_at, fetched_at, generation, fetches,
       lease_holder, lease_until, last_error, last_error_at, retry_at
  FROM app_token
 WHERE appid = ?1;

-- name: TokenLeaseAcquire
-- Takes the lease in one statement: it creates the row if missing, and
-- otherwise updates it only when the lease is free, expired (lease_until <=
-- now) or already the caller's. A row comes back only if the lease was
-- taken. SQLite runs one write at a time per database, so the statement is
-- atomic across connections and processes.
INSERT INTO app_token (appid, lease_holder, lease_until)
VALUES (?1, ?2, ?4)
ON CONFLICT (appid) DO UPDATE
   SET lease_holder = excluded.lease_holder,
       lease_until  = excluded.lease_until
 WHERE app_token.lease_holder IS NULL
    OR app_token.lease_until <= ?3
    OR app_token.lease_holder = excluded.lease_holder
RETURNING appid;

-- name: TokenLeaseRelease
UPDATE app_token
   SET lease_holder = NULL, lease_until = NULL
 WHERE appid = ?1 AND lease_holder = ?2;

-- name: TokenSave
UPDATE app_token
   SET value_sealed  = ?3,
       expires_at    = ?4,
       fetched_at    = ?5,
       generation    = generation + 1,
       fetches       = fetches + 1,
       last_error    = NULL,
       last_error_at = NULL,
       retry_at      = NULL
 WHERE appid = ?1 AND lease_holder = ?2 AND lease_until > ?5;

-- name: TokenSaveError
UPDATE app_token
   SET last_error    = ?3,
       last_error_at = ?4,
       retry_at      = ?5
 WHERE appid = ?1 AND lease_holder = ?2 AND lease_until > ?4;
