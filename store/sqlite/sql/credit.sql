-- The ledger of send credits and the counters of subscribe answers
-- (store.Executor Credit* and SubscribeChoiceAdd). It matches the PostgreSQL
-- driver statement for statement; where it differs, a comment says why.
--
-- No statement here needs a row lock: SQLite runs one write statement at a
-- time per database file, and an UPDATE takes the write lock before it
-- reads, so a subquery and its update see the same rows and no other
-- connection or process can spend in between. The WHERE terms of a spend
-- repeat the partial index's (uses_left > 0, dead_reason IS NULL) verbatim
-- so the planner can use credit_spend.

-- name: CreditInsert
INSERT INTO credit (appid, openid, kind, template_id, value, uses, uses_left, obtained_at, expires_at, source)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)
ON CONFLICT DO NOTHING;

-- name: CreditGet
SELECT id, appid, openid, kind, template_id, value, uses, uses_left,
       obtained_at, expires_at, spent_at, source, dead_reason
  FROM credit
 WHERE id = ?1;

-- name: CreditSpend
-- Takes one use of the oldest usable credit of one kind (?4); the driver
-- tries the kinds in order. Kind long_term is never decremented: it lasts
-- until killed. Differs by necessity from PostgreSQL (no FOR UPDATE SKIP
-- LOCKED): see the head of this file.
UPDATE credit
   SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
       spent_at  = ?6
 WHERE id = (SELECT id FROM credit
              WHERE appid = ?1 AND openid = ?2 AND template_id = ?3 AND kind = ?4
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > ?5)
              ORDER BY obtained_at, id
              LIMIT 1)
RETURNING id, appid, openid, kind, template_id, value, uses, uses_left,
          obtained_at, expires_at, spent_at, source, dead_reason;

-- name: CreditReserve
-- One use for one message of CreditReserveMany, of one kind (?4): the
-- driver tries the message's kinds in order of preference, one probe of
-- credit_spend each (in spending order, past the used-up rows the purge
-- has not removed yet), stopping at the first kind that has one. The rule
-- is CreditSpend's: the oldest usable credit, long_term not decremented.
-- Differs from PostgreSQL
-- (all kinds in one statement, FOR UPDATE SKIP LOCKED and its "busy"
-- probe): no other writer can hold a credit while this runs (head of this
-- file), and a statement per kind was measured cheaper here than one over a
-- JSON array of kinds, which evaluated every kind for every message. (A
-- partial index of usable credits only was tried and measured 5% slower on
-- the queue benchmark: spent credits are purged within hours anyway.)
UPDATE credit
   SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
       spent_at  = ?6
 WHERE id = (SELECT id FROM credit
              WHERE appid = ?1 AND openid = ?2 AND template_id = ?3 AND kind = ?4
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > ?5)
              ORDER BY obtained_at, id
              LIMIT 1)
RETURNING id, value;

-- name: CreditRefund
-- A credit that has all its uses stays as it is.
UPDATE credit SET uses_left = min(uses_left + 1, uses) WHERE id = ?1;

-- name: CreditKill
-- Killing a dead credit keeps the first reason.
UPDATE credit SET dead_reason = coalesce(dead_reason, ?2) WHERE id = ?1;

-- name: CreditKillTemplate
-- An empty openid (?2) kills every user's credits of the template.
UPDATE credit
   SET dead_reason = ?4
 WHERE appid = ?1 AND (?2 = '' OR openid = ?2) AND template_id = ?3
   AND uses_left > 0 AND dead_reason IS NULL;

-- name: CreditPurgeExpired
-- The purge deletes in batches of ?2 rows, so a large purge never holds the
-- single write lock for long; spends interleave between batches.
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2);

-- name: CreditPurgeGone
-- Used-up credits go only once their last use is older than ?1, so a refund
-- shortly after the last use still finds its row; dead ones go at once.
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit
     WHERE (uses_left <= 0 OR dead_reason IS NOT NULL)
       AND (dead_reason IS NOT NULL OR spent_at IS NULL OR spent_at < ?1)
     LIMIT ?2);

-- name: CreditStocks
-- Groups usable credits. Empty filters match everything; the openid column
-- is empty unless the caller filtered on one user.
SELECT c.appid, CASE WHEN ?2 <> '' THEN c.openid ELSE '' END AS who, c.kind, c.template_id,
       count(*), sum(c.uses_left),
       (SELECT coalesce(sum(s.count), 0) FROM subscribe_stat s
         WHERE s.appid = c.appid AND s.template_id = c.template_id
           AND c.template_id <> '' AND s.choice <> 'accept')
  FROM credit c
 WHERE c.uses_left > 0 AND c.dead_reason IS NULL
   AND (c.expires_at IS NULL OR c.expires_at > ?5)
   AND (?1 = '' OR c.appid = ?1)
   AND (?2 = '' OR c.openid = ?2)
   AND (?3 = '' OR c.template_id = ?3)
   AND (?4 = '' OR c.kind = ?4)
   AND (?6 IS NULL OR c.expires_at <= ?6)
 GROUP BY c.appid, who, c.kind, c.template_id
 ORDER BY c.appid, who, c.kind, c.template_id;

-- name: SubscribeChoiceAdd
INSERT INTO subscribe_stat (appid, template_id, choice, count, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (appid, template_id, choice) DO UPDATE
   SET count      = subscribe_stat.count + excluded.count,
       updated_at = excluded.updated_at;
