-- Broadcasts that end: an accepted broadcast becomes 'finished' once every
-- message of it is terminal, keeping its counts by outcome (counts, a JSON
-- object the store keeps opaque) so they outlive message retention; and
-- idempotency keys on broadcasts, as on messages: (appid, idempotency_key)
-- is unique, fingerprint identifies the request that used the key (written
-- when its upload ends). Matches the PostgreSQL migration of the same
-- number.

-- +goose Up
ALTER TABLE broadcast ADD COLUMN idempotency_key TEXT;
ALTER TABLE broadcast ADD COLUMN fingerprint BLOB;
ALTER TABLE broadcast ADD COLUMN counts BLOB;
ALTER TABLE broadcast ADD COLUMN finished_at INTEGER;

CREATE UNIQUE INDEX broadcast_idempotency ON broadcast (appid, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- The broadcasts still waiting for their last message (BroadcastFinishDone).
CREATE INDEX broadcast_unfinished ON broadcast (id) WHERE state = 'accepted';
CREATE INDEX broadcast_app_id ON broadcast (appid, id);

-- Dead webhook events by webhook, for listing and replay.
CREATE INDEX webhook_outbox_state ON webhook_outbox (webhook_id, state, id);

-- +goose Down
DROP INDEX webhook_outbox_state;
DROP INDEX broadcast_app_id;
DROP INDEX broadcast_unfinished;
DROP INDEX broadcast_idempotency;
ALTER TABLE broadcast DROP COLUMN finished_at;
ALTER TABLE broadcast DROP COLUMN counts;
ALTER TABLE broadcast DROP COLUMN fingerprint;
ALTER TABLE broadcast DROP COLUMN idempotency_key;
