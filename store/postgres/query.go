package postgres

// The SQL of every store method. It matches store/sqlite/query.go statement
// for statement; where it differs, a comment says why.

const appColumns = `appid, name, secret_sealed, token_mode, created_at`

const queryAppInsert = `
INSERT INTO app (appid, name, secret_sealed, token_mode, created_at)
VALUES ($1, $2, $3, $4, $5)`

const queryAppGet = `SELECT ` + appColumns + ` FROM app WHERE appid = $1`

const queryAppList = `SELECT ` + appColumns + ` FROM app ORDER BY appid`

const queryAppDelete = `DELETE FROM app WHERE appid = $1`

const tokenColumns = `appid, value_sealed, expires_at, fetched_at, generation, fetches,
	lease_holder, lease_until, last_error, last_error_at, retry_at`

const queryTokenGet = `SELECT ` + tokenColumns + ` FROM app_token WHERE appid = $1`

// queryTokenLeaseAcquire takes the lease in one statement: it creates the row
// if missing, and otherwise updates it only when the lease is free, expired
// (lease_until <= now) or already the caller's. A row comes back only if the
// lease was taken. Under READ COMMITTED, a concurrent caller blocks on the
// row lock taken by ON CONFLICT DO UPDATE and then evaluates the WHERE
// against the winner's committed row, so two callers never both get a row.
const queryTokenLeaseAcquire = `
INSERT INTO app_token (appid, lease_holder, lease_until)
VALUES ($1, $2, $4)
ON CONFLICT (appid) DO UPDATE
   SET lease_holder = excluded.lease_holder,
       lease_until  = excluded.lease_until
 WHERE app_token.lease_holder IS NULL
    OR app_token.lease_until <= $3
    OR app_token.lease_holder = excluded.lease_holder
RETURNING appid`

const queryTokenLeaseRelease = `
UPDATE app_token
   SET lease_holder = NULL, lease_until = NULL
 WHERE appid = $1 AND lease_holder = $2`

const queryTokenSave = `
UPDATE app_token
   SET value_sealed  = $3,
       expires_at    = $4,
       fetched_at    = $5,
       generation    = generation + 1,
       fetches       = fetches + 1,
       last_error    = NULL,
       last_error_at = NULL,
       retry_at      = NULL
 WHERE appid = $1 AND lease_holder = $2 AND lease_until > $5`

const queryTokenSaveError = `
UPDATE app_token
   SET last_error    = $3,
       last_error_at = $4,
       retry_at      = $5
 WHERE appid = $1 AND lease_holder = $2 AND lease_until > $4`

const apiKeyColumns = `id, name, secret_hash, apps, created_at`

const queryAPIKeyInsert = `
INSERT INTO api_key (id, name, secret_hash, apps, created_at)
VALUES ($1, $2, $3, $4, $5)`

const queryAPIKeyGet = `SELECT ` + apiKeyColumns + ` FROM api_key WHERE id = $1`

const queryAPIKeyList = `SELECT ` + apiKeyColumns + ` FROM api_key ORDER BY created_at, id`

const queryAPIKeyDelete = `DELETE FROM api_key WHERE id = $1`
