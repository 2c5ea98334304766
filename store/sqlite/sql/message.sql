-- The delivery queue (store.Executor Message* and Attempt*): the message
-- table is the queue (docs/decisions.md). These are its primitives; the
-- queue's rules (package queue) compose them in transactions. It matches
-- the PostgreSQL driver; where it differs, a comment says why.
--
-- Every statement that returns messages lists the columns in the order
-- the driver's scanMessage reads them.
--
-- Nothing here needs row locks, and the Lock statements are plain SELECTs:
-- SQLite runs one write transaction at a time per file (BEGIN IMMEDIATE
-- takes the write lock when the transaction starts), and the driver runs
-- them on the writer, so what they return cannot change before the
-- transaction ends. PostgreSQL locks with FOR UPDATE (SKIP LOCKED for the
-- claim). Batches travel as one JSON text read with json_each, where
-- PostgreSQL takes arrays (unnest): SQLite has no array parameters.

-- name: MessageInsert
-- Inserts one message of a batch (a prepared statement per transaction). A
-- row comes back only if it was inserted; a taken (appid, idempotency_key)
-- then needs MessageIDByKey. The NOT EXISTS keeps a replay from using an
-- id: ON CONFLICT alone still advances AUTOINCREMENT's sequence.
INSERT INTO message (appid, openid, kind, template_id, data, page, miniprogram_state, lang,
                     emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key,
                     broadcast_id, schedule_id, created_at, updated_at)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16
 WHERE NOT EXISTS (SELECT 1 FROM message WHERE appid = ?1 AND idempotency_key = ?13)
ON CONFLICT (appid, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING id;

-- name: MessageIDByKey
SELECT id FROM message WHERE appid = ?1 AND idempotency_key = ?2 AND idempotency_key IS NOT NULL;

-- name: MessageAnyDue
-- The claimer's cheap pre-check, run on the read pool: an idle poll must not
-- take the single writer away from accepts. The terms are MessageLockDue's.
SELECT 1 FROM message
 WHERE state = 'queued' AND run_at <= ?1 AND (expires_at IS NULL OR expires_at > ?1)
 LIMIT 1;

-- name: MessageNextDue
-- On the message_queued index, in order: the first live row.
SELECT min(run_at) FROM message
 WHERE state = 'queued' AND (expires_at IS NULL OR expires_at > ?1);

-- name: MessageLockDue
-- The messages a claim takes, in the order it takes them. Differs from
-- PostgreSQL (no FOR UPDATE SKIP LOCKED): the claim runs in a write
-- transaction, which excludes every other writer of the file. state =
-- 'queued' is a literal so the planner uses message_queued; the index ends
-- with the rowid, so ORDER BY run_at, id needs no sort.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE state = 'queued' AND run_at <= ?1 AND (expires_at IS NULL OR expires_at > ?1)
 ORDER BY run_at, id
 LIMIT ?2;

-- name: MessageLockExpired
-- Queued and waiting messages whose expires_at is at or before ?1, the ?2
-- lowest ids. The planner finds them through message_expiry and sorts the
-- few it finds (EXPLAIN QUERY PLAN, with and without ANALYZE).
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE state IN ('queued', 'waiting_credit') AND expires_at <= ?1
 ORDER BY id
 LIMIT ?2;

-- name: MessageLockLeaseExpired
-- Sending messages whose lease ended at or before ?1, the ?2 lowest ids.
-- lease_until is set exactly while a message is sending, so the term on it
-- finds them through message_sending (whose predicate does not name state:
-- see migration 00005), then sorts them as MessageLockExpired does.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE lease_until <= ?1 AND state = 'sending'
 ORDER BY id
 LIMIT ?2;

-- name: MessageLockOfTemplate
-- The app's queued and waiting messages of template ?2 (message_app gives
-- them in id order).
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE appid = ?1 AND template_id = ?2 AND state IN ('queued', 'waiting_credit')
 ORDER BY id;

-- name: MessageGet
-- MessageGet runs it on the read pool; MessageLock on the writer, which
-- is SQLite's lock.
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE id = ?1;

-- name: MessageClaimMany
-- Hands the locked messages to holder ?1 until ?2, in one statement: ?4 is
-- a JSON array of [id, credit_id, credit_value]; a credit_id of 0 keeps the
-- credit the message holds (a retry's).
UPDATE message
   SET state        = 'sending',
       claimed_by   = ?1,
       lease_until  = ?2,
       attempts     = message.attempts + 1,
       credit_id    = CASE WHEN c.value ->> 1 <> 0 THEN c.value ->> 1 ELSE message.credit_id END,
       credit_value = CASE WHEN c.value ->> 1 <> 0 THEN c.value ->> 2 ELSE message.credit_value END,
       updated_at   = ?3
  FROM json_each(?4) AS c
 WHERE message.id = c.value ->> 0;

-- name: MessageUpdateMany
-- Applies a batch of updates: ?1 is a JSON array of [id, holder, state,
-- run_at, msgid, last_error, now, uncount (0 or 1)], each id once (UPDATE ... FROM would
-- apply one of several matches at random). A non-empty holder makes its
-- update conditional on the message being sending and claimed by it. A
-- NULL run_at keeps the due time; an empty msgid keeps the msgid. It leaves
-- the credit alone, so RETURNING gives the credit held; MessageDropCredit
-- follows for the updates that drop it. Differs from PostgreSQL (one
-- statement there): SQLite's RETURNING cannot return a value from before the
-- update, and the transaction keeps the rows from changing between the two
-- statements.
UPDATE message
   SET state       = u.value ->> 2,
       attempts    = max(message.attempts - (u.value ->> 7), 0),
       run_at      = coalesce(u.value ->> 3, message.run_at),
       msgid       = CASE WHEN u.value ->> 4 <> '' THEN u.value ->> 4 ELSE message.msgid END,
       last_error  = u.value ->> 5,
       claimed_by  = NULL,
       lease_until = NULL,
       updated_at  = u.value ->> 6
  FROM json_each(?1) AS u
 WHERE message.id = u.value ->> 0
   AND (u.value ->> 1 = '' OR (message.claimed_by = u.value ->> 1 AND message.state = 'sending'))
RETURNING id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
          emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
          state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at;

-- name: MessageDropCredit
-- Forgets the credit of the messages in ?1 (a JSON array of ids).
UPDATE message
   SET credit_id = NULL, credit_value = ''
 WHERE id IN (SELECT value FROM json_each(?1));

-- name: MessageRequeueWaiting
-- Requeues waiting messages whose user now has a usable credit: for
-- subscribe messages one of the kinds ?3 (a JSON array) of the message's
-- template, for template (legacy) messages one of the kinds ?4, whose
-- credits have no template (''). The credit terms repeat credit_spend's
-- predicate.
UPDATE message
   SET state = 'queued', last_error = '', updated_at = ?1
 WHERE state = 'waiting_credit'
   AND EXISTS (SELECT 1 FROM credit c
                WHERE c.appid = message.appid AND c.openid = message.openid
                  AND c.template_id = CASE WHEN message.kind = 'subscribe' THEN message.template_id ELSE '' END
                  AND c.kind IN (SELECT value FROM json_each(CASE WHEN message.kind = 'subscribe' THEN ?3 ELSE ?4 END))
                  AND c.uses_left > 0 AND c.dead_reason IS NULL
                  AND (c.expires_at IS NULL OR c.expires_at > ?2));

-- name: MessageListSelect
-- MessageList and MessageCounts are built from this fragment and the ones
-- below with only the filters that are set, so each query can use
-- message_app or message_broadcast; a fixed statement with a term like
-- "(? IS NULL OR appid = ?)" per filter cannot. Their parameters are
-- positional (?).
SELECT id, appid, openid, kind, template_id, data, page, miniprogram_state, lang,
       emphasis_keyword, run_at, expires_at, wait_for_credit, idempotency_key, broadcast_id, schedule_id,
       state, attempts, claimed_by, lease_until, credit_id, credit_value, msgid, last_error, created_at, updated_at
  FROM message
 WHERE 1 = 1

-- name: MessageCountSelect
SELECT state, count(*) FROM message WHERE 1 = 1

-- name: MessageWhereApps
-- A JSON array of appids.
   AND appid IN (SELECT value FROM json_each(?))

-- name: MessageWhereApp
   AND appid = ?

-- name: MessageWhereOpenID
   AND openid = ?

-- name: MessageWhereState
   AND state = ?

-- name: MessageWhereBroadcast
   AND broadcast_id = ?

-- name: MessageWhereBefore
   AND id < ?

-- name: MessageListOrder
 ORDER BY id DESC LIMIT ?

-- name: MessageCountGroup
 GROUP BY state

-- name: MessagePurgeable
-- A batch of terminal messages for the retention purge.
SELECT id FROM message
 WHERE state IN ('delivered', 'failed', 'no_credit', 'expired', 'cancelled', 'ambiguous')
   AND updated_at < ?1
 LIMIT ?2;

-- name: MessagePurge
DELETE FROM message WHERE id IN (SELECT value FROM json_each(?1));

-- name: AttemptInsertMany
-- ?1 is a JSON array of [message_id, n, at, errcode, errmsg, class,
-- latency_ms]; an n of 0 numbers the attempt after the message's last, in
-- the order of the array.
INSERT INTO attempt (message_id, n, at, errcode, errmsg, class, latency_ms)
SELECT value ->> 0,
       CASE WHEN value ->> 1 > 0 THEN value ->> 1
            ELSE (SELECT coalesce(max(a.n), 0) FROM attempt a WHERE a.message_id = value ->> 0)
                 + row_number() OVER (PARTITION BY value ->> 0, value ->> 1 > 0 ORDER BY key) END,
       value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6
  FROM json_each(?1)
RETURNING message_id, n;

-- name: AttemptList
SELECT message_id, n, at, errcode, errmsg, class, latency_ms
  FROM attempt
 WHERE message_id = ?1
 ORDER BY n;

-- name: AttemptPurge
DELETE FROM attempt WHERE message_id IN (SELECT value FROM json_each(?1));
