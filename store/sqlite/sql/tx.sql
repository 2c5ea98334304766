-- Nested transactions (Executor.Begin on a transaction) are savepoints. A
-- savepoint's name is an identifier, which SQL cannot take as a parameter:
-- the driver fills %s with a name of its own (sp_1, sp_2, ...), never with
-- input.

-- name: Savepoint
SAVEPOINT %s;

-- name: SavepointRelease
-- Commit of a nested transaction: its writes become part of the enclosing
-- one.
RELEASE %s;

-- name: SavepointRollback
-- Rollback of a nested transaction undoes its writes; the RELEASE that
-- follows (SavepointRelease) then removes it from the stack, which ROLLBACK
-- TO leaves in place.
ROLLBACK TO %s;
