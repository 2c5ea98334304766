package postgres

// The SQL of the ledger methods (store/credit.go). It matches
// store/sqlite/query_credit.go statement for statement; where it differs, a
// comment says why.

const creditColumns = `id, appid, openid, kind, template_id, value, uses, uses_left,
	obtained_at, expires_at, spent_at, source, dead_reason`

// queryCreditInsert inserts a whole batch in one statement from arrays.
// Differs from SQLite (a prepared statement per row in one transaction):
// one round trip. ON CONFLICT DO NOTHING also skips a value repeated inside
// the batch. WITH ORDINALITY keeps the batch's order in the ids.
const queryCreditInsert = `
INSERT INTO credit (appid, openid, kind, template_id, value, uses, uses_left, obtained_at, expires_at, source)
SELECT b.appid, b.openid, b.kind, b.template_id, b.value, b.uses, b.uses, b.obtained_at, b.expires_at, b.source
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
              $7::timestamptz[], $8::timestamptz[], $9::text[])
       WITH ORDINALITY AS b (appid, openid, kind, template_id, value, uses, obtained_at, expires_at, source, n)
 ORDER BY b.n
ON CONFLICT DO NOTHING`

const queryCreditGet = `SELECT ` + creditColumns + ` FROM credit WHERE id = $1`

// queryCreditSpend takes one use of the oldest usable credit of one kind.
// The subquery locks that row; SKIP LOCKED lets a concurrent spender take
// the next credit instead of queueing behind this one. Under READ COMMITTED
// a row changed since the snapshot is re-checked (uses_left > 0) when it is
// locked, so a use is never taken twice. Because locked rows are skipped,
// the statement can find nothing while another transaction holds the last
// credits; the driver then retries with queryCreditSpendWait.
const queryCreditSpend = `
UPDATE credit
   SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
       spent_at  = $6
 WHERE id = (SELECT id FROM credit
              WHERE appid = $1 AND openid = $2 AND template_id = $3 AND kind = $4
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > $5)
              ORDER BY obtained_at, id
              LIMIT 1
                FOR UPDATE SKIP LOCKED)
RETURNING ` + creditColumns

// queryCreditSpendWait is queryCreditSpend waiting for locked rows. After the
// wait, PostgreSQL re-checks the row it waited for and may return nothing
// although a later credit is usable (the re-check happens after LIMIT); the
// driver loops while queryCreditUsable says one exists.
const queryCreditSpendWait = `
UPDATE credit
   SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
       spent_at  = $6
 WHERE id = (SELECT id FROM credit
              WHERE appid = $1 AND openid = $2 AND template_id = $3 AND kind = $4
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > $5)
              ORDER BY obtained_at, id
              LIMIT 1
                FOR UPDATE)
RETURNING ` + creditColumns

const queryCreditUsable = `
SELECT EXISTS (SELECT 1 FROM credit
                WHERE appid = $1 AND openid = $2 AND template_id = $3 AND kind = $4
                  AND uses_left > 0 AND dead_reason IS NULL
                  AND (expires_at IS NULL OR expires_at > $5))`

const queryCreditRefund = `UPDATE credit SET uses_left = least(uses_left + 1, uses) WHERE id = $1`

const queryCreditKill = `UPDATE credit SET dead_reason = coalesce(dead_reason, $2) WHERE id = $1`

const queryCreditKillTemplate = `
UPDATE credit
   SET dead_reason = $4
 WHERE appid = $1 AND openid = $2 AND template_id = $3
   AND uses_left > 0 AND dead_reason IS NULL`

// The purge deletes in batches of $2 rows, as in SQLite: short statements
// keep row locks and WAL bursts small.
const queryCreditPurgeExpired = `
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2)`

const queryCreditPurgeGone = `
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit
     WHERE (uses_left <= 0 OR dead_reason IS NOT NULL)
       AND (dead_reason IS NOT NULL OR spent_at IS NULL OR spent_at < $1)
     LIMIT $2)`

const queryCreditStocks = `
SELECT c.appid, CASE WHEN $2::text <> '' THEN c.openid ELSE '' END AS who, c.kind, c.template_id,
       count(*), sum(c.uses_left),
       (SELECT coalesce(sum(s.count), 0) FROM subscribe_stat s
         WHERE s.appid = c.appid AND s.template_id = c.template_id
           AND c.template_id <> '' AND s.choice <> 'accept')
  FROM credit c
 WHERE c.uses_left > 0 AND c.dead_reason IS NULL
   AND (c.expires_at IS NULL OR c.expires_at > $5)
   AND ($1::text = '' OR c.appid = $1)
   AND ($2::text = '' OR c.openid = $2)
   AND ($3::text = '' OR c.template_id = $3)
   AND ($4::text = '' OR c.kind = $4)
   AND ($6::timestamptz IS NULL OR c.expires_at <= $6)
 GROUP BY c.appid, who, c.kind, c.template_id
 ORDER BY c.appid, who, c.kind, c.template_id`

const querySubscribeChoiceAdd = `
INSERT INTO subscribe_stat (appid, template_id, choice, count, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (appid, template_id, choice) DO UPDATE
   SET count      = subscribe_stat.count + excluded.count,
       updated_at = excluded.updated_at`

const eventColumns = `id, appid, type, openid, template_id, status, popup_scene, msgid, errcode,
	create_time, received_at`

const queryEventInsert = `
INSERT INTO event (appid, type, openid, template_id, status, popup_scene, msgid, errcode, create_time, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT DO NOTHING
RETURNING id`

const queryEventListByMsgID = `
SELECT ` + eventColumns + ` FROM event
 WHERE appid = $1 AND msgid = $2 AND msgid <> ''
 ORDER BY id`
