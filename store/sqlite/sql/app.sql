-- The apps (store.Executor App*). Parameters are numbered (?1) so one value
-- can be used twice, as $1 is in PostgreSQL. Times are INTEGER unix
-- microseconds in UTC (migration/00001_app_token.sql).

-- name: AppInsert
INSERT INTO app (appid, name, secret_sealed, token_mode, created_at)
VALUES (?1, ?2, ?3, ?4, ?5);

-- name: AppGet
SELECT appid, name, secret_sealed, token_mode, created_at
  FROM app
 WHERE appid = ?1;

-- name: AppList
SELECT appid, name, secret_sealed, token_mode, created_at
  FROM app
 ORDER BY appid;

-- name: AppDelete
-- The token row, credits, sessions, callbacks, templates, schedules and
-- webhooks go with the app (ON DELETE CASCADE; foreign_keys is on for every
-- connection).
DELETE FROM app WHERE appid = ?1;
