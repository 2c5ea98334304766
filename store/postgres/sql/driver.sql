-- The driver's own statements: the clock and the migration's schema check.
-- Loaded by internal/sqlfile: each statement runs from its "-- name:" line
-- to the next; the comment lines right under the name are its doc.

-- name: Now
-- The database's clock (store.Executor.Now): the start of the current
-- transaction, so every statement of a transaction sees one time, and
-- instances sharing the database agree on due times, leases and expiry
-- whatever their own clocks say.
SELECT now();

-- name: CurrentSchema
-- The schema migrations create their tables in: the first schema of the
-- search_path that exists ('' if none does).
SELECT coalesce(current_schema(), '');
