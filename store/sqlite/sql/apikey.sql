-- The API keys (store.Executor APIKey*). apps is a JSON array of appids.

-- name: APIKeyInsert
INSERT INTO api_key (id, name, secret_hash, apps, created_at)
VALUES (?1, ?2, ?3, ?4, ?5);

-- name: APIKeyGet
SELECT id, name, secret_hash, apps, created_at
  FROM api_key
 WHERE id = ?1;

-- name: APIKeyList
SELECT id, name, secret_hash, apps, created_at
  FROM api_key
 ORDER BY created_at, id;

-- name: APIKeyDelete
DELETE FROM api_key WHERE id = ?1;
