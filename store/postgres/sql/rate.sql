-- The shared token buckets (store.Executor RateTake). Matches the SQLite
-- driver.

-- name: RateTake
-- One statement: refill the bucket ($1) at $2 tokens a second up to $3
-- since its last use, on the database's clock, then take up to $4 whole
-- tokens. A new bucket starts full. last_granted carries what was taken
-- out of the statement (RETURNING sees only the new row).
INSERT INTO rate_bucket AS b (key, tokens, last_granted, updated_at)
VALUES ($1, $3::float8 - least($4::int, $3::int), least($4::int, $3::int), now())
ON CONFLICT (key) DO UPDATE SET
    last_granted = least($4::int, floor(least($3::float8, b.tokens + $2::float8 * greatest(0, extract(epoch FROM now() - b.updated_at)::float8)))::int),
    tokens       = least($3::float8, b.tokens + $2::float8 * greatest(0, extract(epoch FROM now() - b.updated_at)::float8))
                   - least($4::int, floor(least($3::float8, b.tokens + $2::float8 * greatest(0, extract(epoch FROM now() - b.updated_at)::float8)))::int),
    updated_at   = now()
RETURNING last_granted, tokens;

-- name: SeenAdd
-- A row comes back when the key is new, or its last sighting expired.
INSERT INTO seen_key AS s (key, expires_at) VALUES ($1, $3)
ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE s.expires_at <= $2
RETURNING true;

-- name: SeenRemove
DELETE FROM seen_key WHERE key = $1;

-- name: SeenPurge
DELETE FROM seen_key WHERE expires_at <= $1;
