-- Apps (store/store.go). Matches the SQLite driver statement for
-- statement; where a statement differs, a comment says why.

-- name: AppInsert
INSERT INTO app (appid, name, secret_sealed, token_mode, created_at)
VALUES ($1, $2, $3, $4, $5);

-- name: AppGet
SELECT appid, name, secret_sealed, token_mode, created_at
  FROM app
 WHERE appid = $1;

-- name: AppList
SELECT appid, name, secret_sealed, token_mode, created_at
  FROM app
 ORDER BY appid;

-- name: AppDelete
-- Every row of the app goes with it (ON DELETE CASCADE) but its messages
-- and attempts: the history outlives its app.
DELETE FROM app WHERE appid = $1;
