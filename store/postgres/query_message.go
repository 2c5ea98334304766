package postgres

// The SQL of the delivery queue (store/message.go). It matches
// store/sqlite/query_message.go; where it differs, a comment says why
// (mostly: several instances write at once here, so rows are locked, and
// batches are arrays in one statement instead of a statement per row).

const messageColumns = `id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
	emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
	state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at`

// queryMessageInsert is the group commit: the whole batch in one statement.
// Each row draws its id from the sequence first (b), so the result maps
// every request to its row by id, keyless ones included, and never relies
// on the order of RETURNING. ON CONFLICT DO NOTHING also skips a key
// repeated later in the batch (rows are inserted in batch order, so the
// first wins). A row whose key was taken comes back with inserted = false;
// queryMessageIDsByKey then finds the id that holds the key.
const queryMessageInsert = `
WITH b AS (
    SELECT nextval('message_id_seq') AS id, u.*
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[],
                  $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::boolean[],
                  $13::text[], $14::bigint[], $15::bigint[], $16::timestamptz[])
           WITH ORDINALITY AS u (appid, openid, kind, template_id, data, page, miniprogram_state, lang,
                                 emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key,
                                 broadcast_id, schedule_id, now, n)
), ins AS (
    INSERT INTO message (id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
                         emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key,
                         broadcast_id, schedule_id, created_at, updated_at)
    OVERRIDING SYSTEM VALUE
    SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
           emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key,
           broadcast_id, schedule_id, now, now
      FROM b
     ORDER BY n
    ON CONFLICT (appid, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
)
SELECT b.n, b.id, ins.id IS NOT NULL FROM b LEFT JOIN ins ON ins.id = b.id`

// queryMessageIDsByKey finds the rows holding keys that conflicted. It is a
// separate statement so that, under READ COMMITTED, it sees a row that a
// concurrent batch committed after the insert's snapshot (the insert waited
// for that batch, then skipped the key).
const queryMessageIDsByKey = `
SELECT k.i, m.id
  FROM unnest($1::int[], $2::text[], $3::text[]) AS k (i, appid, key)
  JOIN message m ON m.appid = k.appid AND m.idempotency_key = k.key AND m.idempotency_key IS NOT NULL`

// queryMessageDue selects and locks the messages a claim takes, in the
// order it takes them: message_queued in index order, no sort. SKIP LOCKED
// lets concurrent claimers take the next rows instead of waiting; a row
// claimed and committed since this statement's snapshot is re-checked
// (state = 'queued') when it is locked, and skipped.
const queryMessageDue = `
SELECT ` + messageColumns + ` FROM message
 WHERE state = 'queued' AND run_at <= $1 AND (expires_at IS NULL OR expires_at > $1)
 ORDER BY run_at, id
 LIMIT $2
   FOR UPDATE SKIP LOCKED`

// queryMessageReserveCredit is the ledger's queryCreditSpend for one claimed
// message, with the kinds in one statement ($4, in order of preference:
// array_position ranks the first kind's credits first, then the oldest). It
// serves the messages after the first of their credit group in a claim
// (queryMessageReserveCredits takes the first ones), each seeing the uses
// taken before it. A credit another transaction has locked is skipped, as
// in CreditSpend. When none is taken, the last column tells whether a
// usable credit exists all the same (locked by another transaction,
// invisible to SKIP LOCKED): the claim then leaves the message queued
// instead of calling it credit-less.
const queryMessageReserveCredit = `
WITH spent AS (
    UPDATE credit
       SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
           spent_at  = $6
     WHERE id = (SELECT id FROM credit
                  WHERE appid = $1 AND openid = $2 AND template_id = $3 AND kind = ANY ($4::text[])
                    AND uses_left > 0 AND dead_reason IS NULL
                    AND (expires_at IS NULL OR expires_at > $5)
                  ORDER BY array_position($4::text[], kind), obtained_at, id
                  LIMIT 1
                    FOR UPDATE SKIP LOCKED)
    RETURNING id, value
)
SELECT id, value, false FROM spent
UNION ALL
SELECT NULL, NULL, EXISTS (SELECT 1 FROM credit
                            WHERE appid = $1 AND openid = $2 AND template_id = $3 AND kind = ANY ($4::text[])
                              AND uses_left > 0 AND dead_reason IS NULL
                              AND (expires_at IS NULL OR expires_at > $5))
 WHERE NOT EXISTS (SELECT 1 FROM spent)`

// queryMessageReserveCredits is queryMessageReserveCredit for many messages
// at once, one per credit group (app, user, template, kinds): each row of m
// takes the oldest usable credit of its group (kind1 before kind2) that no
// other transaction has locked. The groups are distinct, so no credit is
// taken twice by the statement; later messages of a group go through
// queryMessageReserveCredit after it, seeing its uses. busy is true when a
// row took nothing although a usable credit exists (locked elsewhere).
const queryMessageReserveCredits = `
WITH m AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
        AS m (i, appid, openid, template_id, kind1, kind2)
), pick AS (
    SELECT m.i, c.id
      FROM m CROSS JOIN LATERAL (
           SELECT id FROM credit
            WHERE appid = m.appid AND openid = m.openid AND template_id = m.template_id
              AND kind IN (m.kind1, m.kind2)
              AND uses_left > 0 AND dead_reason IS NULL
              AND (expires_at IS NULL OR expires_at > $7)
            ORDER BY kind = m.kind1 DESC, obtained_at, id
            LIMIT 1
              FOR UPDATE SKIP LOCKED) c
), spent AS (
    UPDATE credit
       SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
           spent_at  = $8
      FROM pick
     WHERE credit.id = pick.id
    RETURNING pick.i, credit.id, credit.value
)
SELECT m.i, s.id, s.value,
       CASE WHEN s.id IS NULL THEN EXISTS (
           SELECT 1 FROM credit
            WHERE appid = m.appid AND openid = m.openid AND template_id = m.template_id
              AND kind IN (m.kind1, m.kind2)
              AND uses_left > 0 AND dead_reason IS NULL
              AND (expires_at IS NULL OR expires_at > $7))
       ELSE false END
  FROM m LEFT JOIN spent s ON s.i = m.i`

// queryMessageClaim writes the claim's outcome for every selected message
// in one statement: sending with its credit for the holder, or
// waiting_credit / no_credit. Differs from SQLite (a statement per
// message): one round trip.
const queryMessageClaim = `
UPDATE message m
   SET state        = u.state,
       attempts     = m.attempts + CASE WHEN u.state = 'sending' THEN 1 ELSE 0 END,
       claimed_by   = CASE WHEN u.state = 'sending' THEN $1 END,
       lease_until  = CASE WHEN u.state = 'sending' THEN $2::timestamptz END,
       credit_id    = u.credit_id,
       credit_value = u.credit_value,
       last_error   = CASE WHEN u.state = 'sending' THEN m.last_error ELSE $4 END,
       updated_at   = $3
  FROM unnest($5::bigint[], $6::text[], $7::bigint[], $8::text[]) AS u (id, state, credit_id, credit_value)
 WHERE m.id = u.id`

// queryMessageFinish records a batch of outcomes, each only for the holder
// of a sending message, and the attempts of those applied, in one
// statement. It leaves the credit alone (queryMessageDropCredit follows for
// killed and refunded ones), so RETURNING gives the credit held. Differs
// from SQLite (a statement per message): one round trip.
const queryMessageFinish = `
WITH done AS (
    UPDATE message m
       SET state       = f.state,
           run_at      = CASE WHEN f.state = 'queued' THEN f.run_at ELSE m.run_at END,
           msgid       = CASE WHEN f.msgid <> '' THEN f.msgid ELSE m.msgid END,
           last_error  = f.last_error,
           claimed_by  = NULL,
           lease_until = NULL,
           updated_at  = f.now
      FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                  $7::timestamptz[]) AS f (id, holder, state, run_at, msgid, last_error, now)
     WHERE m.id = f.id AND m.claimed_by = f.holder AND m.state = 'sending'
    RETURNING m.id, m.credit_id, m.attempts
), att AS (
    INSERT INTO attempt (message_id, n, at, errcode, errmsg, class, latency_ms)
    SELECT a.id, CASE WHEN a.n > 0 THEN a.n ELSE done.attempts END, a.at, a.errcode, a.errmsg, a.class, a.latency_ms
      FROM unnest($8::bigint[], $9::int[], $10::timestamptz[], $11::int[], $12::text[], $13::text[],
                  $14::double precision[]) AS a (id, n, at, errcode, errmsg, class, latency_ms)
      JOIN done ON done.id = a.id
)
SELECT id, credit_id FROM done`

const queryMessageDropCredit = `UPDATE message SET credit_id = NULL, credit_value = '' WHERE id = ANY ($1::bigint[])`

// queryMessageRecover skips rows locked by a finish in progress: their
// holder is alive after all, and its outcome wins.
const queryMessageRecover = `
UPDATE message
   SET state = 'ambiguous', last_error = 'lease of ' || claimed_by || ' expired',
       claimed_by = NULL, lease_until = NULL, updated_at = $1
 WHERE id IN (SELECT id FROM message WHERE state = 'sending' AND lease_until <= $1 FOR UPDATE SKIP LOCKED)
   AND state = 'sending'
RETURNING id`

// queryMessageExpire moves expired messages and returns the credits they
// held, for the refunds. Differs from SQLite (a SELECT, then an UPDATE):
// the locking subquery returns the credits as they were before the update.
// Rows a claim has locked are skipped; the next run finds them if they are
// still queued.
const queryMessageExpire = `
WITH e AS (
    SELECT id, credit_id FROM message
     WHERE state IN ('queued', 'waiting_credit') AND expires_at <= $1
       FOR UPDATE SKIP LOCKED
)
UPDATE message m
   SET state = 'expired', credit_id = NULL, credit_value = '', updated_at = $1
  FROM e
 WHERE m.id = e.id
RETURNING m.id, e.credit_id`

// queryMessageRequeueWaiting requeues waiting messages whose user now has a
// usable credit by the rule of the claim: for subscribe messages, a
// subscribe or long_term credit of the template; for template messages, a
// form_id or prepay_id. The credit terms repeat credit_spend's predicate.
const queryMessageRequeueWaiting = `
UPDATE message m
   SET state = 'queued', last_error = '', updated_at = $1
 WHERE m.state = 'waiting_credit'
   AND EXISTS (SELECT 1 FROM credit c
                WHERE c.appid = m.appid AND c.openid = m.openid
                  AND c.template_id = CASE WHEN m.kind = 'subscribe' THEN m.template_id ELSE '' END
                  AND c.kind = ANY (CASE WHEN m.kind = 'subscribe' THEN ARRAY['subscribe', 'long_term']
                                         ELSE ARRAY['form_id', 'prepay_id'] END)
                  AND c.uses_left > 0 AND c.dead_reason IS NULL
                  AND (c.expires_at IS NULL OR c.expires_at > $2))`

// queryMessageCancelCheck locks the message, waiting for a claim in
// progress to commit, so the state it reads is the one the cancel acts on.
const queryMessageCancelCheck = `SELECT state, credit_id FROM message WHERE id = $1 FOR UPDATE`

const queryMessageCancel = `
UPDATE message
   SET state = 'cancelled', credit_id = NULL, credit_value = '', claimed_by = NULL, lease_until = NULL,
       updated_at = $2
 WHERE id = $1 AND state IN ('queued', 'waiting_credit')`

const queryMessageGet = `SELECT ` + messageColumns + ` FROM message WHERE id = $1`

const queryAttemptList = `
SELECT message_id, n, at, errcode, errmsg, class, latency_ms FROM attempt
 WHERE message_id = $1
 ORDER BY n`

// MessageList and MessageCounts are built from these parts with only the
// filters that are set (%d is the parameter number), so each query can use
// message_app or message_broadcast; a fixed statement with a term like
// "($1 IS NULL OR appid = $1)" per filter gets one generic plan for all.
const (
	queryMessageListSelect  = `SELECT ` + messageColumns + ` FROM message WHERE true`
	queryMessageCountSelect = `SELECT state, count(*) FROM message WHERE true`
	queryMessageWhereApps   = ` AND appid = ANY ($%d::text[])`
	queryMessageWhereApp    = ` AND appid = $%d`
	queryMessageWhereOpenID = ` AND openid = $%d`
	queryMessageWhereState  = ` AND state = $%d`
	queryMessageWhereBcast  = ` AND broadcast_id = $%d`
	queryMessageWhereBefore = ` AND id < $%d`
	queryMessageListOrder   = ` ORDER BY id DESC LIMIT $%d`
	queryMessageCountGroup  = ` GROUP BY state`
)

// queryMessagePurge deletes a batch of terminal messages and their attempts.
const queryMessagePurge = `
WITH d AS (
    DELETE FROM message
     WHERE id IN (SELECT id FROM message
                   WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous')
                     AND updated_at < $1
                   LIMIT $2)
    RETURNING id
), a AS (
    DELETE FROM attempt WHERE message_id IN (SELECT id FROM d)
)
SELECT count(*) FROM d`

// queryMessageResolveAmbiguous settles one ambiguous message from a stored
// sent event (store.MessageResolveAmbiguous). $3 is store.ResolveSkew.
const queryMessageResolveAmbiguous = `
WITH m AS (
    SELECT id, appid, openid, template_id, created_at, updated_at FROM message
     WHERE id = $1 AND state = 'ambiguous' AND kind = 'subscribe'
       FOR UPDATE),
e AS (
    SELECT ev.msgid, ev.status FROM event ev, m
     WHERE ev.appid = m.appid AND ev.openid = m.openid AND ev.template_id = m.template_id
       AND ev.type = 'subscribe_msg_sent_event' AND ev.msgid <> ''
       AND ev.create_time BETWEEN m.created_at - $3::interval AND m.updated_at + $3::interval
       AND NOT EXISTS (SELECT 1 FROM message x WHERE x.appid = ev.appid AND x.msgid = ev.msgid)
     ORDER BY ev.create_time, ev.id LIMIT 1)
UPDATE message
   SET state = CASE WHEN e.status = 'success' THEN 'delivered' ELSE 'failed' END,
       msgid = e.msgid, last_error = 'resolved by subscribe_msg_sent_event: ' || e.status, updated_at = $2
  FROM e
 WHERE message.id = $1
RETURNING message.state`
