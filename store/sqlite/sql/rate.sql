-- The shared token buckets (store.Executor RateTake). Matches the PostgreSQL
-- driver; times are the caller's (?5, unix microseconds): SQLite's clock is
-- the one process's.

-- name: RateTake
INSERT INTO rate_bucket AS b (key, tokens, last_granted, updated_at)
VALUES (?1, ?3 - min(?4, CAST(?3 AS INTEGER)), min(?4, CAST(?3 AS INTEGER)), ?5)
ON CONFLICT (key) DO UPDATE SET
    last_granted = min(?4, CAST(min(?3, b.tokens + ?2 * max(0, ?5 - b.updated_at) / 1e6) AS INTEGER)),
    tokens       = min(?3, b.tokens + ?2 * max(0, ?5 - b.updated_at) / 1e6)
                   - min(?4, CAST(min(?3, b.tokens + ?2 * max(0, ?5 - b.updated_at) / 1e6) AS INTEGER)),
    updated_at   = ?5
RETURNING last_granted, tokens;

-- name: SeenAdd
-- A row comes back when the key is new, or its last sighting expired.
INSERT INTO seen_key AS s (key, expires_at) VALUES (?1, ?3)
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE s.expires_at <= ?2
RETURNING 1;

-- name: SeenRemove
DELETE FROM seen_key WHERE key = ?1;

-- name: SeenPurge
DELETE FROM seen_key WHERE expires_at <= ?1;
