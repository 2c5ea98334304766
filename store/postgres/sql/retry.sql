-- An operator's retry of an ended message (store.Executor MessageRequeue).
-- Matches the SQLite driver.

-- name: MessageRequeue
UPDATE message
   SET state = 'queued', run_at = $2, expires_at = $3, attempts = 0, claimed_by = NULL, lease_until = NULL,
       credit_id = NULL, credit_value = '', last_error = $4, updated_at = $5
 WHERE id = $1
RETURNING id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
          emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
          state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at;
