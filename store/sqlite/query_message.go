package sqlite

// The SQL of the delivery queue (store/message.go). It matches
// store/postgres/query_message.go; where it differs, a comment says why.
// SQLite runs one write transaction at a time per file, and every method
// that writes runs in one transaction on the writer connection, so nothing
// here needs row locks: what a statement reads cannot change before the
// transaction commits.

const messageColumns = `id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
	emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
	state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at`

// queryMessageInsert inserts one message of a batch (a prepared statement per
// transaction, as in the prototype). A row comes back only if it was
// inserted; a taken (appid, idempotency_key) then needs
// queryMessageIDByKey.
const queryMessageInsert = `
INSERT INTO message (appid, openid, kind, template_id, data, page, miniprogram_state, lang,
                     emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key,
                     broadcast_id, schedule_id, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16)
ON CONFLICT (appid, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id`

const queryMessageIDByKey = `
SELECT id FROM message WHERE appid = ?1 AND idempotency_key = ?2 AND idempotency_key IS NOT NULL`

// queryMessageDue selects the messages a claim takes, in the order it takes
// them. Differs from PostgreSQL (no FOR UPDATE SKIP LOCKED): the claim
// runs in a write transaction, which excludes every other writer of the
// file. state = 'queued' is a literal so the planner uses message_queued;
// the index ends with the rowid, so ORDER BY run_at, id needs no sort.
const queryMessageDue = `
SELECT ` + messageColumns + ` FROM message
 WHERE state = 'queued' AND run_at <= ?1 AND (expires_at IS NULL OR expires_at > ?1)
 ORDER BY run_at, id
 LIMIT ?2`

// queryMessageAnyDue is the claim's cheap pre-check, run on the read pool:
// an idle poll must not take the single writer away from accepts.
const queryMessageAnyDue = `
SELECT 1 FROM message
 WHERE state = 'queued' AND run_at <= ?1 AND (expires_at IS NULL OR expires_at > ?1)
 LIMIT 1`

// queryMessageReserveCredit is the ledger's queryCreditSpend (the same
// rule, the same statement) returning only what the message keeps.
const queryMessageReserveCredit = `
UPDATE credit
   SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
       spent_at  = ?6
 WHERE id = (SELECT id FROM credit
              WHERE appid = ?1 AND openid = ?2 AND template_id = ?3 AND kind = ?4
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > ?5)
              ORDER BY obtained_at, id
              LIMIT 1)
RETURNING id, value`

// queryMessageClaim takes the selected messages that have a credit for the
// holder, in one statement: ?4 is a JSON array of [id, credit_id,
// credit_value]. Differs from PostgreSQL (arrays) by necessity: SQLite has
// no array parameters, so a batch travels as one JSON text (the decision's
// json_each form).
const queryMessageClaim = `
UPDATE message
   SET state = 'sending', claimed_by = ?1, lease_until = ?2, attempts = attempts + 1,
       credit_id = c.value ->> 1, credit_value = c.value ->> 2, updated_at = ?3
  FROM json_each(?4) AS c
 WHERE message.id = c.value ->> 0`

// queryMessageNoCredit moves a selected message for which no credit exists
// to waiting_credit or no_credit.
const queryMessageNoCredit = `
UPDATE message SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1`

// queryMessageFinish records a batch of outcomes, each only for the holder
// of a sending message: ?1 is a JSON array of [id, holder, state, run_at,
// msgid, last_error, now], each id once. It leaves the credit alone;
// queryMessageDropCredit follows when the credit is killed or refunded, so
// RETURNING gives the credit held.
const queryMessageFinish = `
UPDATE message
   SET state       = f.value ->> 2,
       run_at      = CASE WHEN f.value ->> 2 = 'queued' THEN f.value ->> 3 ELSE run_at END,
       msgid       = CASE WHEN f.value ->> 4 <> '' THEN f.value ->> 4 ELSE msgid END,
       last_error  = f.value ->> 5,
       claimed_by  = NULL,
       lease_until = NULL,
       updated_at  = f.value ->> 6
  FROM json_each(?1) AS f
 WHERE message.id = f.value ->> 0 AND message.claimed_by = f.value ->> 1 AND message.state = 'sending'
RETURNING id, credit_id, attempts`

// queryAttemptInsert records the attempts of applied outcomes: ?1 is a JSON
// array of [message_id, n, at, errcode, errmsg, class, latency_ms].
const queryAttemptInsert = `
INSERT INTO attempt (message_id, n, at, errcode, errmsg, class, latency_ms)
SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6
  FROM json_each(?1)`

const queryMessageDropCredit = `UPDATE message SET credit_id = NULL, credit_value = '' WHERE id = ?1`

const queryMessageRecover = `
UPDATE message
   SET state = 'ambiguous', last_error = 'lease of ' || claimed_by || ' expired',
       claimed_by = NULL, lease_until = NULL, updated_at = ?1
 WHERE state = 'sending' AND lease_until <= ?1
RETURNING id`

// queryMessageExpiring lists what MessageExpire moves, with the credits to
// give back. Differs from PostgreSQL (one statement there): SQLite's
// RETURNING cannot return a value from before the update, and the
// transaction keeps the rows from changing between the two statements.
// No ORDER BY: it would make the planner walk the rowid instead of
// message_expiry; the driver sorts.
const queryMessageExpiring = `
SELECT id, credit_id FROM message
 WHERE state IN ('queued', 'waiting_credit') AND expires_at <= ?1`

// queryMessageExpire moves the listed messages (?2, a JSON array of ids).
const queryMessageExpire = `
UPDATE message
   SET state = 'expired', credit_id = NULL, credit_value = '', updated_at = ?1
 WHERE id IN (SELECT value FROM json_each(?2))`

// queryMessageRequeueWaiting requeues waiting messages whose user now has a
// usable credit by the rule of the claim: for subscribe messages, a
// subscribe or long_term credit of the template; for template messages, a
// form_id or prepay_id. The credit terms repeat credit_spend's predicate.
const queryMessageRequeueWaiting = `
UPDATE message
   SET state = 'queued', last_error = '', updated_at = ?1
 WHERE state = 'waiting_credit'
   AND EXISTS (SELECT 1 FROM credit c
                WHERE c.appid = message.appid AND c.openid = message.openid
                  AND c.template_id = CASE WHEN message.kind = 'subscribe' THEN message.template_id ELSE '' END
                  AND CASE WHEN message.kind = 'subscribe' THEN c.kind IN ('subscribe', 'long_term')
                           ELSE c.kind IN ('form_id', 'prepay_id') END
                  AND c.uses_left > 0 AND c.dead_reason IS NULL
                  AND (c.expires_at IS NULL OR c.expires_at > ?2))`

const queryMessageCancelCheck = `SELECT state, credit_id FROM message WHERE id = ?1`

const queryMessageCancel = `
UPDATE message
   SET state = 'cancelled', credit_id = NULL, credit_value = '', claimed_by = NULL, lease_until = NULL,
       updated_at = ?2
 WHERE id = ?1 AND state IN ('queued', 'waiting_credit')`

const queryMessageGet = `SELECT ` + messageColumns + ` FROM message WHERE id = ?1`

const queryAttemptList = `
SELECT message_id, n, at, errcode, errmsg, class, latency_ms FROM attempt
 WHERE message_id = ?1
 ORDER BY n`

// MessageList and MessageCounts are built from these parts with only the
// filters that are set, so each query can use message_app or
// message_broadcast; a fixed statement with a term like
// "(? IS NULL OR appid = ?)" per filter cannot.
const (
	queryMessageListSelect  = `SELECT ` + messageColumns + ` FROM message WHERE 1 = 1`
	queryMessageCountSelect = `SELECT state, count(*) FROM message WHERE 1 = 1`
	queryMessageWhereApps   = ` AND appid IN (SELECT value FROM json_each(?))`
	queryMessageWhereApp    = ` AND appid = ?`
	queryMessageWhereOpenID = ` AND openid = ?`
	queryMessageWhereState  = ` AND state = ?`
	queryMessageWhereBcast  = ` AND broadcast_id = ?`
	queryMessageWhereBefore = ` AND id < ?`
	queryMessageListOrder   = ` ORDER BY id DESC LIMIT ?`
	queryMessageCountGroup  = ` GROUP BY state`
)

// queryMessagePurgeable picks a batch of terminal messages for the purge.
const queryMessagePurgeable = `
SELECT id FROM message
 WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous')
   AND updated_at < ?1
 LIMIT ?2`

const queryAttemptPurge = `DELETE FROM attempt WHERE message_id IN (SELECT value FROM json_each(?1))`

const queryMessagePurge = `DELETE FROM message WHERE id IN (SELECT value FROM json_each(?1))`

// queryMessageResolveAmbiguous settles one ambiguous message from a stored
// sent event (store.MessageResolveAmbiguous). ?3 is store.ResolveSkew in
// microseconds.
const queryMessageResolveAmbiguous = `
UPDATE message
   SET (state, msgid, last_error, updated_at) = (
       SELECT CASE WHEN e.status = 'success' THEN 'delivered' ELSE 'failed' END,
              e.msgid, 'resolved by subscribe_msg_sent_event: ' || e.status, ?2
         FROM event e
        WHERE e.appid = message.appid AND e.openid = message.openid AND e.template_id = message.template_id
          AND e.type = 'subscribe_msg_sent_event' AND e.msgid <> ''
          AND e.create_time BETWEEN message.created_at - ?3 AND message.updated_at + ?3
          AND NOT EXISTS (SELECT 1 FROM message x WHERE x.appid = e.appid AND x.msgid = e.msgid)
        ORDER BY e.create_time, e.id LIMIT 1)
 WHERE id = ?1 AND state = 'ambiguous' AND kind = 'subscribe'
   AND EXISTS (
       SELECT 1 FROM event e
        WHERE e.appid = message.appid AND e.openid = message.openid AND e.template_id = message.template_id
          AND e.type = 'subscribe_msg_sent_event' AND e.msgid <> ''
          AND e.create_time BETWEEN message.created_at - ?3 AND message.updated_at + ?3
          AND NOT EXISTS (SELECT 1 FROM message x WHERE x.appid = e.appid AND x.msgid = e.msgid))
RETURNING state`
