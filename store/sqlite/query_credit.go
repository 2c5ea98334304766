package sqlite

// The SQL of the ledger methods (store/credit.go). It matches
// store/postgres/query_credit.go statement for statement; where it differs,
// a comment says why.

const creditColumns = `id, appid, openid, kind, template_id, value, uses, uses_left,
	obtained_at, expires_at, spent_at, source, dead_reason`

const queryCreditInsert = `
INSERT INTO credit (appid, openid, kind, template_id, value, uses, uses_left, obtained_at, expires_at, source)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)
ON CONFLICT DO NOTHING`

const queryCreditGet = `SELECT ` + creditColumns + ` FROM credit WHERE id = ?1`

// queryCreditSpend takes one use of the oldest usable credit of one kind.
// Differs by necessity from PostgreSQL (no FOR UPDATE SKIP LOCKED): SQLite
// runs one write statement at a time per database file, and an UPDATE takes
// the write lock before it reads, so the subquery and the update see the same
// rows and no other connection or process can spend in between. The WHERE
// repeats the partial index's terms (uses_left > 0, dead_reason IS NULL)
// verbatim so the planner can use credit_spend.
const queryCreditSpend = `
UPDATE credit
   SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
       spent_at  = ?6
 WHERE id = (SELECT id FROM credit
              WHERE appid = ?1 AND openid = ?2 AND template_id = ?3 AND kind = ?4
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > ?5)
              ORDER BY obtained_at, id
              LIMIT 1)
RETURNING ` + creditColumns

const queryCreditRefund = `UPDATE credit SET uses_left = min(uses_left + 1, uses) WHERE id = ?1`

const queryCreditKill = `UPDATE credit SET dead_reason = coalesce(dead_reason, ?2) WHERE id = ?1`

const queryCreditKillTemplate = `
UPDATE credit
   SET dead_reason = ?4
 WHERE appid = ?1 AND openid = ?2 AND template_id = ?3
   AND uses_left > 0 AND dead_reason IS NULL`

// The purge deletes in batches of ?3 rows, so a large purge never holds the
// single write lock for long; spends interleave between batches.
const queryCreditPurgeExpired = `
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)`

const queryCreditPurgeGone = `
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit
     WHERE (uses_left <= 0 OR dead_reason IS NOT NULL)
       AND (dead_reason IS NOT NULL OR spent_at IS NULL OR spent_at < ?1)
     LIMIT ?2)`

// queryCreditStocks groups usable credits. Empty filters match everything;
// the openid column is empty unless the caller filtered on one user.
const queryCreditStocks = `
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
 ORDER BY c.appid, who, c.kind, c.template_id`

const querySubscribeChoiceAdd = `
INSERT INTO subscribe_stat (appid, template_id, choice, count, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (appid, template_id, choice) DO UPDATE
   SET count      = subscribe_stat.count + excluded.count,
       updated_at = excluded.updated_at`

const eventColumns = `id, appid, type, openid, template_id, status, popup_scene, msgid, errcode,
	create_time, received_at`

const queryEventInsert = `
INSERT INTO event (appid, type, openid, template_id, status, popup_scene, msgid, errcode, create_time, received_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT DO NOTHING
RETURNING id`

const queryEventListByMsgID = `
SELECT ` + eventColumns + ` FROM event
 WHERE appid = ?1 AND msgid = ?2 AND msgid <> ''
 ORDER BY id`
