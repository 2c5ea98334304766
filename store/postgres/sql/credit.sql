-- The ledger of send credits and the counters of subscribe answers
-- (store/credit.go). Matches the SQLite driver statement for statement;
-- where a statement differs, a comment says why (mostly: several instances
-- spend at once here, so rows are locked, and batches are arrays in one
-- statement instead of a statement per row).
--
-- Usable, in every statement: uses_left > 0 AND dead_reason IS NULL AND
-- (expires_at IS NULL OR expires_at > cutoff). Kind 'long_term' is the one
-- kind a spend does not decrement: it lasts until killed.

-- name: CreditInsertBatch
-- Inserts a whole batch in one statement from arrays. Differs from SQLite
-- (a prepared statement per row in one transaction): one round trip.
-- ON CONFLICT DO NOTHING also skips a value repeated inside the batch.
-- WITH ORDINALITY keeps the batch's order in the ids.
INSERT INTO credit (appid, openid, kind, template_id, value, uses, uses_left, obtained_at, expires_at, source)
SELECT b.appid, b.openid, b.kind, b.template_id, b.value, b.uses, b.uses, b.obtained_at, b.expires_at, b.source
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[],
              $7::timestamptz[], $8::timestamptz[], $9::text[])
       WITH ORDINALITY AS b (appid, openid, kind, template_id, value, uses, obtained_at, expires_at, source, n)
 ORDER BY b.n
ON CONFLICT DO NOTHING;

-- name: CreditGet
SELECT id, appid, openid, kind, template_id, value, uses, uses_left,
       obtained_at, expires_at, spent_at, source, dead_reason
  FROM credit
 WHERE id = $1;

-- name: CreditSpend
-- Takes one use of the oldest usable credit of one kind. The subquery locks
-- that row; SKIP LOCKED lets a concurrent spender take the next credit
-- instead of queueing behind this one. Under READ COMMITTED a row changed
-- since the snapshot is re-checked (uses_left > 0) when it is locked, so a
-- use is never taken twice. Because locked rows are skipped, the statement
-- can find nothing while another transaction holds the last credits; the
-- driver then retries with CreditSpendWait.
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
RETURNING id, appid, openid, kind, template_id, value, uses, uses_left,
          obtained_at, expires_at, spent_at, source, dead_reason;

-- name: CreditSpendWait
-- CreditSpend waiting for locked rows. After the wait, PostgreSQL re-checks
-- the row it waited for and may return nothing although a later credit is
-- usable (the re-check happens after LIMIT); the driver loops while
-- CreditUsable says one exists.
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
RETURNING id, appid, openid, kind, template_id, value, uses, uses_left,
          obtained_at, expires_at, spent_at, source, dead_reason;

-- name: CreditUsable
SELECT EXISTS (SELECT 1 FROM credit
                WHERE appid = $1 AND openid = $2 AND template_id = $3 AND kind = $4
                  AND uses_left > 0 AND dead_reason IS NULL
                  AND (expires_at IS NULL OR expires_at > $5));

-- name: CreditReserveFirsts
-- CreditReserveMany for the first request of each credit group (app, user,
-- template) whose kinds are $7, in one statement: each row of m takes the
-- oldest usable credit of its group, by kind in the order of $7
-- (array_position ranks the first kind's credits first), then obtained_at,
-- then id, that no other transaction has locked (SKIP LOCKED: a
-- reservation never waits, so claims never deadlock with each other or
-- with spends). The groups are distinct (the driver sends a group's later
-- requests through CreditReserveOne), so no credit is taken twice by the
-- statement. busy is true when a row took nothing although a usable credit
-- exists (locked by another transaction, invisible to SKIP LOCKED): the
-- caller then tries again later instead of calling the user credit-less.
-- Differs from SQLite (a statement per request, under the one writer).
WITH m AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
        AS m (i, appid, openid, template_id, cutoff, now)
), pick AS (
    SELECT m.i, m.now, c.id
      FROM m CROSS JOIN LATERAL (
           SELECT id FROM credit
            WHERE appid = m.appid AND openid = m.openid AND template_id = m.template_id
              AND kind = ANY ($7::text[])
              AND uses_left > 0 AND dead_reason IS NULL
              AND (expires_at IS NULL OR expires_at > m.cutoff)
            ORDER BY array_position($7::text[], kind), obtained_at, id
            LIMIT 1
              FOR UPDATE SKIP LOCKED) c
), spent AS (
    UPDATE credit
       SET uses_left = uses_left - CASE WHEN kind = 'long_term' THEN 0 ELSE 1 END,
           spent_at  = pick.now
      FROM pick
     WHERE credit.id = pick.id
    RETURNING pick.i, credit.id, credit.value
)
SELECT m.i, s.id, s.value,
       s.id IS NULL AND EXISTS (
           SELECT 1 FROM credit
            WHERE appid = m.appid AND openid = m.openid AND template_id = m.template_id
              AND kind = ANY ($7::text[])
              AND uses_left > 0 AND dead_reason IS NULL
              AND (expires_at IS NULL OR expires_at > m.cutoff))
  FROM m LEFT JOIN spent s ON s.i = m.i;

-- name: CreditReserveOne
-- CreditSpend for one request of CreditReserveMany, with the kinds in one
-- statement ($4, in order of preference: array_position ranks the first
-- kind's credits first, then the oldest). It serves the requests after the
-- first of their credit group (CreditReserveFirsts takes the first ones),
-- each seeing the uses taken before it. A credit another transaction has
-- locked is skipped, as in CreditSpend. When none is taken, the last column
-- tells whether a usable credit exists all the same (locked by another
-- transaction): busy, as in CreditReserveFirsts.
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
 WHERE NOT EXISTS (SELECT 1 FROM spent);

-- name: CreditRefund
UPDATE credit SET uses_left = least(uses_left + 1, uses) WHERE id = $1;

-- name: CreditKill
UPDATE credit SET dead_reason = coalesce(dead_reason, $2) WHERE id = $1;

-- name: CreditKillTemplate
-- An empty openid ($2) kills every user's credits of the template.
UPDATE credit
   SET dead_reason = $4
 WHERE appid = $1 AND ($2 = '' OR openid = $2) AND template_id = $3
   AND uses_left > 0 AND dead_reason IS NULL;

-- name: CreditPurgeExpired
-- The purge deletes in batches of $2 rows, as in SQLite: short statements
-- keep row locks and WAL bursts small.
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2);

-- name: CreditPurgeGone
-- Used-up and dead credits, in batches as CreditPurgeExpired; a used-up one
-- only once its last use is older than $1, so a late refund finds it.
DELETE FROM credit WHERE id IN (
    SELECT id FROM credit
     WHERE (uses_left <= 0 OR dead_reason IS NOT NULL)
       AND (dead_reason IS NOT NULL OR spent_at IS NULL OR spent_at < $1)
     LIMIT $2);

-- name: CreditStocks
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
 ORDER BY c.appid, who, c.kind, c.template_id;

-- name: SubscribeChoiceAdd
INSERT INTO subscribe_stat (appid, template_id, choice, count, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (appid, template_id, choice) DO UPDATE
   SET count      = subscribe_stat.count + excluded.count,
       updated_at = excluded.updated_at;
