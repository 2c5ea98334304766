-- The delivery queue (store/message.go): the message table is the queue
-- (docs/decisions.md). These are the queue's primitives; package queue
-- composes them in transactions. They match the SQLite driver's; where a
-- statement differs, a comment says why (mostly: several instances write at
-- once here, so rows are locked, and batches are arrays in one statement
-- where SQLite passes JSON).
--
-- Every statement that returns messages writes their columns out in the
-- order the driver's scanMessage reads them.

-- name: MessageInsertMany
-- The group commit: the whole batch in one statement. Each row draws its id
-- from the sequence first (b), so the result maps every request to its row
-- by id, keyless ones included, and never relies on the order of RETURNING;
-- a row whose key is taken already draws none, so a replayed request uses
-- no id (only a race with a concurrent batch still does).
-- ON CONFLICT DO NOTHING also skips a key repeated later in the batch (rows
-- are inserted in batch order, so the first wins). A row whose key was
-- taken comes back with inserted = false; MessageIDsByKey then finds the id
-- that holds the key.
WITH b AS (
    SELECT CASE WHEN u.idempotency_key IS NOT NULL AND EXISTS (
                    SELECT 1 FROM message m WHERE m.appid = u.appid AND m.idempotency_key = u.idempotency_key)
                THEN NULL ELSE nextval('message_id_seq') END AS id, u.*
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
     WHERE id IS NOT NULL
     ORDER BY n
    ON CONFLICT (appid, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
)
SELECT b.n, coalesce(b.id, 0), ins.id IS NOT NULL
  FROM b LEFT JOIN ins ON ins.id = b.id
       -- Wakes the other instances when the transaction commits (store.DueListener);
       -- one notification per transaction, however many rows.
       CROSS JOIN (SELECT pg_notify('wxnotify_due', '')) AS wake;

-- name: MessageIDsByKey
-- Finds the rows holding keys that conflicted. It is a separate statement
-- so that, under READ COMMITTED, it sees a row that a concurrent batch
-- committed after the insert's snapshot (the insert waited for that batch,
-- then skipped the key).
SELECT k.i, m.id
  FROM unnest($1::int[], $2::text[], $3::text[]) AS k (i, appid, key)
  JOIN message m ON m.appid = k.appid AND m.idempotency_key = k.key AND m.idempotency_key IS NOT NULL;

-- name: MessageAnyDue
-- The cheap read before a claim: the predicate of MessageLockDue, no lock,
-- on the message_queued index.
SELECT EXISTS (SELECT 1 FROM message
                WHERE state = 'queued' AND run_at <= $1 AND (expires_at IS NULL OR expires_at > $1));

-- name: MessageNextDue
-- On the message_queued index, in order: the first live row.
SELECT min(run_at) FROM message
 WHERE state = 'queued' AND (expires_at IS NULL OR expires_at > $1);

-- name: MessageLockDue
-- Selects and locks the messages a claim takes, in the order it takes them:
-- message_queued in index order, no sort. SKIP LOCKED lets concurrent
-- claimers take the next rows instead of waiting; a row claimed and
-- committed since this statement's snapshot is re-checked (state =
-- 'queued') when it is locked, and skipped. Differs from SQLite, where the
-- one writer serialises claims and there is nothing to skip.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE state = 'queued' AND run_at <= $1 AND (expires_at IS NULL OR expires_at > $1)
 ORDER BY run_at, id
 LIMIT $2
   FOR UPDATE SKIP LOCKED;

-- name: MessageLockExpired
-- Queued and waiting messages past their expiry, locked. SKIP LOCKED: a row
-- another transaction holds (a claim taking it) is handled by that
-- transaction, or found by the next run if it is still queued.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE state IN ('queued', 'waiting_credit') AND expires_at <= $1
 ORDER BY id
 LIMIT $2
   FOR UPDATE SKIP LOCKED;

-- name: MessageLockLeaseExpired
-- Sending messages whose lease ended, locked (lease_until <= $1 implies it
-- is set, so the message_sending index serves). SKIP LOCKED: a row locked
-- by a finish in progress is skipped, since its holder is alive after all
-- and its outcome wins; the next run finds it if it is still sending.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE state = 'sending' AND lease_until <= $1
 ORDER BY id
 LIMIT $2
   FOR UPDATE SKIP LOCKED;

-- name: MessageLockOfTemplate
-- The app's queued and waiting messages of one template, locked. SKIP
-- LOCKED: a row another transaction holds (a claim taking it) is handled
-- by that transaction, or by the next run if it is still queued.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE appid = $1 AND template_id = $2 AND state IN ('queued', 'waiting_credit')
 ORDER BY id
   FOR UPDATE SKIP LOCKED;

-- name: MessageLock
-- One message, locked: it waits for a transaction holding the row (a claim
-- in progress) to end, so the state it reads is the one the caller acts on.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE id = $1
   FOR UPDATE;

-- name: MessageClaimMany
-- Hands locked messages to holder $1 until $2, in one statement: each
-- becomes sending with attempts incremented and the claim's credit
-- recorded; a NULL credit keeps the one the message holds (a retry's).
-- Differs from SQLite (a JSON array instead of arrays).
UPDATE message m
   SET state        = 'sending',
       attempts     = m.attempts + 1,
       claimed_by   = $1,
       lease_until  = $2,
       credit_id    = coalesce(c.credit_id, m.credit_id),
       credit_value = CASE WHEN c.credit_id IS NULL THEN m.credit_value ELSE c.credit_value END,
       updated_at   = $3
  FROM unnest($4::bigint[], $5::bigint[], $6::text[]) AS c (id, credit_id, credit_value)
 WHERE m.id = c.id;

-- name: MessageUpdateMany
-- Applies a batch of state changes in one statement (ids distinct, in id
-- order: concurrent batches lock rows in one order). An element with a
-- holder applies only while the message is sending and claimed by it; one
-- with holder '' unconditionally. old locks each row that applies and reads
-- the credit it holds: RETURNING gives that credit, from before the drop
-- (message.credit_id in RETURNING would be the new value, NULL when
-- dropped), so the caller knows which credit to kill or refund. Under READ
-- COMMITTED a row changed since the snapshot is re-checked against the
-- holder condition once locked. Differs from SQLite, which reads the
-- credit and drops it in a second statement.
WITH u AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                         $7::boolean[], $8::timestamptz[], $9::boolean[])
        AS u (id, holder, state, run_at, msgid, last_error, drop_credit, now, uncount)
), old AS MATERIALIZED (
    SELECT m.id, m.credit_id, m.credit_value
      FROM message m JOIN u ON u.id = m.id
     WHERE u.holder = '' OR (m.state = 'sending' AND m.claimed_by = u.holder)
     ORDER BY m.id
       FOR UPDATE OF m
)
UPDATE message m
   SET state        = u.state,
       attempts     = CASE WHEN u.uncount AND m.attempts > 0 THEN m.attempts - 1 ELSE m.attempts END,
       run_at       = coalesce(u.run_at, m.run_at),
       msgid        = CASE WHEN u.msgid <> '' THEN u.msgid ELSE m.msgid END,
       last_error   = u.last_error,
       credit_id    = CASE WHEN u.drop_credit THEN NULL ELSE m.credit_id END,
       credit_value = CASE WHEN u.drop_credit THEN '' ELSE m.credit_value END,
       claimed_by   = NULL,
       lease_until  = NULL,
       updated_at   = u.now
  FROM u JOIN old ON old.id = u.id
 WHERE m.id = u.id
RETURNING m.id, m.appid, m.openid, m.kind, m.template_id, m.data, m.page, m.miniprogram_state, m.lang,
          m.emphasis_keyword, m.run_at, m.expires_at, m.wait_for_credit, m.idempotency_key, m.broadcast_id,
          m.schedule_id, m.state, m.attempts, m.claimed_by, m.lease_until, old.credit_id, old.credit_value,
          m.msgid, m.last_error, m.created_at, m.updated_at;

-- name: MessageRequeueWaiting
-- Requeues waiting messages whose user now has a usable credit, by the
-- rule of CreditReserveMany: for subscribe messages a credit of kind $3 of
-- the message's template; for template (legacy) messages one of kind $4,
-- whose credits have no template (''). The credit terms repeat
-- CreditSpend's predicate, expiring after $2.
UPDATE message m
   SET state = 'queued', last_error = '', updated_at = $1
 WHERE m.state = 'waiting_credit'
   AND EXISTS (SELECT 1 FROM credit c
                WHERE c.appid = m.appid AND c.openid = m.openid
                  AND c.template_id = CASE WHEN m.kind = 'subscribe' THEN m.template_id ELSE '' END
                  AND c.kind = ANY (CASE WHEN m.kind = 'subscribe' THEN $3::text[] ELSE $4::text[] END)
                  AND c.uses_left > 0 AND c.dead_reason IS NULL
                  AND (c.expires_at IS NULL OR c.expires_at > $2));

-- name: AttemptInsertMany
-- A batch of attempts in one statement (SQLite: a JSON array).
-- An n of 0 numbers the attempt after the message's last, in the order of
-- the arrays.
INSERT INTO attempt (message_id, n, at, errcode, errmsg, class, latency_ms)
SELECT u.id,
       CASE WHEN u.n > 0 THEN u.n
            ELSE (SELECT coalesce(max(a.n), 0) FROM attempt a WHERE a.message_id = u.id)
                 + row_number() OVER (PARTITION BY u.id, u.n > 0 ORDER BY u.ord) END,
       u.at, u.errcode, u.errmsg, u.class, u.latency_ms
  FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::int[], $5::text[], $6::text[],
              $7::double precision[]) WITH ORDINALITY AS u (id, n, at, errcode, errmsg, class, latency_ms, ord)
RETURNING message_id, n;

-- name: MessageGet
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE id = $1;

-- name: AttemptList
SELECT message_id, n, at, errcode, errmsg, class, latency_ms
  FROM attempt
 WHERE message_id = $1
 ORDER BY n;

-- name: MessageListSelect
-- MessageList and MessageCounts are built from this fragment and the ones
-- below with only the filters that are set (%d is the parameter number), so
-- each query can use message_app or message_broadcast; a fixed statement
-- with a term like "($1 IS NULL OR appid = $1)" per filter gets one generic
-- plan for all.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE true

-- name: MessageCountSelect
SELECT state, count(*) FROM message WHERE true

-- name: MessageWhereApps
AND appid = ANY ($%d::text[])

-- name: MessageWhereApp
AND appid = $%d

-- name: MessageWhereOpenID
AND openid = $%d

-- name: MessageWhereState
AND state = $%d

-- name: MessageWhereBroadcast
AND broadcast_id = $%d

-- name: MessageWhereBefore
AND id < $%d

-- name: MessageListOrder
ORDER BY id DESC LIMIT $%d

-- name: MessageCountGroup
GROUP BY state

-- name: MessagePurge
-- Deletes a batch of terminal messages and their attempts (attempt has no
-- foreign key: both go here).
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
SELECT count(*) FROM d;
