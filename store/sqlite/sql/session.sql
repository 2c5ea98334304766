-- Mini-program sessions and the apps' push configuration (store.Executor
-- Session* and AppCallback*). They match the PostgreSQL driver statement for
-- statement.

-- name: SessionInsert
INSERT INTO mp_session (token_hash, appid, openid, session_key_sealed, created_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: SessionGet
SELECT token_hash, appid, openid, session_key_sealed, created_at, expires_at
  FROM mp_session
 WHERE token_hash = ?1;

-- name: SessionDeleteExpired
DELETE FROM mp_session WHERE expires_at <= ?1;

-- name: AppCallbackSet
INSERT INTO app_callback (appid, token_sealed, aes_key_sealed, mode, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (appid) DO UPDATE
   SET token_sealed   = excluded.token_sealed,
       aes_key_sealed = excluded.aes_key_sealed,
       mode           = excluded.mode,
       updated_at     = excluded.updated_at;

-- name: AppCallbackGet
SELECT appid, token_sealed, aes_key_sealed, mode, updated_at
  FROM app_callback
 WHERE appid = ?1;

-- name: AppCallbackDelete
DELETE FROM app_callback WHERE appid = ?1;
