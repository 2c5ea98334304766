package ledger_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/postgres"
	"github.com/wxnotify/wxnotify/store/sqlite"
)

// BenchCreditsEnv sets how many credits BenchmarkSpendCredit loads.
const BenchCreditsEnv = "WXNOTIFY_BENCH_CREDITS"

// benchCredits is the default load: small, so `go test -bench .` stays quick.
const benchCredits = 100_000

// BenchmarkSpendCredit measures SpendCredit of a random user's legacy credit
// on a ledger of WXNOTIFY_BENCH_CREDITS credits (default 100,000): 10 per
// user, 8 form_ids and 2 prepay_ids, the oldest of each user expired but not
// purged (as between two purges). It reports the p50, p99 and p99.9 latency
// of single spends, one at a time.
//
//	WXNOTIFY_BENCH_CREDITS=10000000 WXNOTIFY_TEST_POSTGRES=postgres://... \
//	    go test ./ledger -run '^$' -bench SpendCredit -benchtime 20000x -timeout 60m
func BenchmarkSpendCredit(b *testing.B) {
	n := benchCredits
	if v := os.Getenv(BenchCreditsEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10 {
			b.Fatalf("%s=%q: want a number >= 10", BenchCreditsEnv, v)
		}
	}
	users := n / 10
	for _, e := range testdb.Engines(b) {
		b.Run(fmt.Sprintf("%s/credits=%d", e.Name, n), func(b *testing.B) {
			ctx := b.Context()
			s := e.NewDB(b)(b)
			if err := s.AppInsert(ctx, &store.AppInsertParams{
				AppID: appID, Name: "bench", SecretSealed: []byte("x"), TokenMode: "stable", Now: t0,
			}); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			loadCredits(b, s, n)
			b.Logf("%s: loaded %d credits for %d users in %v", e.Name, n, users, time.Since(start).Round(time.Millisecond))

			now := t0.Add(time.Hour)
			svc := &ledger.Service{Store: s, Now: func() time.Time { return now }}
			rng := rand.New(rand.NewPCG(1, 2))
			var (
				lat      []time.Duration
				notFound int
			)
			for b.Loop() {
				openID := benchOpenID(rng.IntN(users))
				t := time.Now()
				_, err := svc.SpendCredit(ctx, appID, openID, "")
				lat = append(lat, time.Since(t))
				if wxnotify.ErrorCode(err) == wxnotify.ENOTFOUND {
					notFound++
				} else if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(lat)
			q := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
			}
			b.ReportMetric(q(0.50), "p50-us")
			b.ReportMetric(q(0.99), "p99-us")
			b.ReportMetric(q(0.999), "p99.9-us")
			b.ReportMetric(float64(notFound), "notfound")
		})
	}
}

func benchOpenID(user int) string { return fmt.Sprintf("o%09d", user) }

// loadCredits bulk-loads n credits in one statement, straight into the
// driver's database (the store has no bulk path: real credits come in
// reports of at most 100). Credit i belongs to user i/10, in order, so every
// index is appended to rather than split.
func loadCredits(b *testing.B, s store.Driver, n int) {
	b.Helper()
	ctx := b.Context()
	base := t0.Add(-24 * time.Hour)
	switch db := s.(type) {
	case *sqlite.DB:
		conn, err := sql.Open("sqlite", db.Path()+"?_pragma=busy_timeout(10000)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		const us = int64(time.Microsecond)
		if _, err := conn.ExecContext(ctx, `
WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1),
c(i, obtained) AS (
    SELECT i, ?3 + (i % 10) * 60000000 - CASE WHEN i % 10 = 0 THEN ?4 ELSE 0 END FROM seq)
INSERT INTO credit (appid, openid, kind, template_id, value, uses, uses_left, obtained_at, expires_at, source)
SELECT ?2, printf('o%09d', i / 10),
       CASE WHEN i % 10 < 8 THEN 'form_id' ELSE 'prepay_id' END, '', 'v' || i,
       CASE WHEN i % 10 < 8 THEN 1 ELSE 3 END, CASE WHEN i % 10 < 8 THEN 1 ELSE 3 END,
       obtained, obtained + ?5, 'bench'
  FROM c`, n, appID, base.UnixMicro(), int64(wxnotify.FormIDLifetime)/us, int64(wxnotify.FormIDLifetime)/us); err != nil {
			b.Fatalf("load sqlite: %v", err)
		}
		if _, err := conn.ExecContext(ctx, `ANALYZE`); err != nil {
			b.Fatal(err)
		}
		explain(b, conn, `EXPLAIN QUERY PLAN
UPDATE credit SET uses_left = uses_left - 1, spent_at = ?5
 WHERE id = (SELECT id FROM credit
              WHERE appid = ?1 AND openid = ?2 AND template_id = '' AND kind = 'form_id'
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > ?3)
              ORDER BY obtained_at, id LIMIT 1)`, appID, benchOpenID(1), t0.UnixMicro(), nil, nil)
	case *postgres.DB:
		if _, err := db.Pool().Exec(ctx, `
INSERT INTO credit (appid, openid, kind, template_id, value, uses, uses_left, obtained_at, expires_at, source)
SELECT $2, 'o' || lpad((i / 10)::text, 9, '0'),
       CASE WHEN i % 10 < 8 THEN 'form_id' ELSE 'prepay_id' END, '', 'v' || i,
       CASE WHEN i % 10 < 8 THEN 1 ELSE 3 END, CASE WHEN i % 10 < 8 THEN 1 ELSE 3 END,
       obtained, obtained + interval '7 days', 'bench'
  FROM (SELECT i, $3::timestamptz + (i % 10) * interval '1 minute'
                  - CASE WHEN i % 10 = 0 THEN interval '7 days' ELSE interval '0' END AS obtained
          FROM generate_series(0, $1::int - 1) AS i) c`, n, appID, base); err != nil {
			b.Fatalf("load postgres: %v", err)
		}
		if _, err := db.Pool().Exec(ctx, `VACUUM ANALYZE credit`); err != nil {
			b.Fatal(err)
		}
		rows, err := db.Pool().Query(ctx, `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
UPDATE credit SET uses_left = uses_left - 1, spent_at = $4
 WHERE id = (SELECT id FROM credit
              WHERE appid = $1 AND openid = $2 AND template_id = '' AND kind = 'form_id'
                AND uses_left > 0 AND dead_reason IS NULL
                AND (expires_at IS NULL OR expires_at > $3)
              ORDER BY obtained_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)`, appID, benchOpenID(1), t0, t0)
		if err != nil {
			b.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				b.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		b.Logf("postgres spend plan:\n%s", strings.Join(plan, "\n"))
	default:
		b.Fatalf("no bulk load for %T", s)
	}
}

func explain(b *testing.B, conn *sql.DB, query string, args ...any) {
	b.Helper()
	rows, err := conn.QueryContext(b.Context(), query, args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notUsed int
		var detail string
		if err := rows.Scan(&id, &parent, &notUsed, &detail); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, detail)
	}
	b.Logf("sqlite spend plan:\n%s", strings.Join(plan, "\n"))
}
