package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

// exerciseAudit checks the audit log: entries read back as written, newest
// first, filtered and paged.
func exerciseAudit(t *testing.T, newDB NewDBFunc) {
	t.Run("InsertList", func(t *testing.T) {
		t.Parallel()
		ctx, s := t.Context(), newDB(t)(t)
		app := testAppID(1)
		var ids []int64
		for i, a := range []struct{ action, appID, target string }{
			{"message.cancel", app, "message 1"}, {"token.refresh", app, app}, {"message.cancel", "", "message 2"},
		} {
			id, err := s.AuditInsert(ctx, &store.AuditEntry{At: testNow.Add(time.Duration(i) * time.Second), Actor: "apikey:k1 (ops)",
				Action: a.action, AppID: a.appID, Target: a.target, Detail: "queued → cancelled"})
			if err != nil {
				t.Fatalf("AuditInsert: %v", err)
			}
			ids = append(ids, id)
		}
		if !slices.IsSorted(ids) || ids[0] == ids[1] {
			t.Fatalf("ids %v, want increasing", ids)
		}
		list := func(p *store.AuditListParams) string {
			t.Helper()
			got, err := s.AuditList(ctx, p)
			if err != nil {
				t.Fatalf("AuditList(%+v): %v", p, err)
			}
			var out []string
			for _, e := range got {
				out = append(out, fmt.Sprintf("%s %s %s", e.Action, e.Target, e.At.Format(time.RFC3339Nano)))
			}
			return fmt.Sprint(out)
		}
		at := func(i int) string {
			return testNow.Add(time.Duration(i) * time.Second).Truncate(store.TimePrecision).Format(time.RFC3339Nano)
		}
		for _, c := range []struct {
			name string
			p    store.AuditListParams
			want []string
		}{
			{"All", store.AuditListParams{}, []string{"message.cancel message 2 " + at(2), "token.refresh " + app + " " + at(1), "message.cancel message 1 " + at(0)}},
			{"Action", store.AuditListParams{Action: "message.cancel"}, []string{"message.cancel message 2 " + at(2), "message.cancel message 1 " + at(0)}},
			{"App", store.AuditListParams{AppID: app}, []string{"token.refresh " + app + " " + at(1), "message.cancel message 1 " + at(0)}},
			{"Page", store.AuditListParams{BeforeID: ids[2], Limit: 1}, []string{"token.refresh " + app + " " + at(1)}},
		} {
			if got := list(&c.p); got != fmt.Sprint(c.want) {
				t.Errorf("%s: %s, want %v", c.name, got, c.want)
			}
		}
		got, err := s.AuditList(ctx, &store.AuditListParams{Limit: 1})
		if err != nil || len(got) != 1 {
			t.Fatalf("AuditList limit 1: %v, %v", got, err)
		}
		if e := got[0]; e.ID != ids[2] || e.Actor != "apikey:k1 (ops)" || e.Detail != "queued → cancelled" || e.AppID != "" {
			t.Fatalf("entry %+v", e)
		}
		if _, err := s.AuditInsert(ctx, &store.AuditEntry{At: testNow, Action: "x", Target: "y"}); err == nil {
			t.Fatal("an entry without Actor was stored")
		}
	})
}

// exerciseHistory checks the dashboard's history: the counts of outcomes
// and errcodes per minute, and the points' upsert, range delete and list.
func exerciseHistory(t *testing.T, newDB NewDBFunc) {
	t.Run("Counts", func(t *testing.T) {
		t.Parallel()
		ctx, s := t.Context(), newDB(t)(t)
		app := testAppID(1)
		insertApp(ctx, t, s, app)
		minute := testNow.Truncate(time.Minute)
		q := queue.New(s)
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, "oA", "T", ""), newMessage(app, "oB", "T", ""),
			newMessage(app, "oC", "T", ""), newMessage(app, "oD", "T", "")))
		// oA: no credit at testNow (minute 0); oB, oC: sent, delivered and
		// failed (43101) one minute later; oD cancelled two minutes later.
		mustInsertCredits(ctx, t, s, longTermCredit(app, "oB", "T", testNow), longTermCredit(app, "oC", "T", testNow))
		claimed := mustClaimQ(ctx, t, q, &queue.ClaimParams{Holder: "h", Now: testNow, LeaseUntil: testNow.Add(time.Hour), Limit: 3, CreditCutoff: testNow})
		if len(claimed) != 3 {
			t.Fatalf("claim: %s", describe(claimed))
		}
		at1 := minute.Add(time.Minute + 5*time.Second)
		if _, err := q.Finish(ctx, []*queue.FinishParams{
			{ID: ids[1], Holder: "h", Now: at1, State: "delivered", MsgID: "1", Attempt: &store.Attempt{MessageID: ids[1], At: at1, Class: ""}},
			{ID: ids[2], Holder: "h", Now: at1.Add(50 * time.Second), State: "failed", LastError: "refused",
				Attempt: &store.Attempt{MessageID: ids[2], At: at1.Add(50 * time.Second), ErrCode: 43101, ErrMsg: "user refuse", Class: "credit"},
				Prior:   []*store.Attempt{{MessageID: ids[2], At: at1, ErrCode: -2, ErrMsg: "network", Class: "retry"}}},
		}); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if _, err := q.Cancel(ctx, ids[3], minute.Add(2*time.Minute)); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		describeCounts := func(cs []*store.HistoryCount) string {
			var out []string
			for _, c := range cs {
				out = append(out, fmt.Sprintf("+%s %s=%d", c.Minute.Sub(minute), c.Key, c.N))
			}
			return fmt.Sprint(out)
		}
		got, err := s.HistoryCountOutcomes(ctx, minute, minute.Add(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want := "[+0s no_credit=1 +1m0s delivered=1 +1m0s failed=1 +2m0s cancelled=1]"; describeCounts(got) != want {
			t.Fatalf("HistoryCountOutcomes=%s, want %s", describeCounts(got), want)
		}
		// Half-open: a range ending where the cancel's minute starts leaves it out.
		if got, err = s.HistoryCountOutcomes(ctx, minute.Add(time.Minute), minute.Add(2*time.Minute)); err != nil ||
			describeCounts(got) != "[+1m0s delivered=1 +1m0s failed=1]" {
			t.Fatalf("HistoryCountOutcomes of minute 1=%s, %v", describeCounts(got), err)
		}
		got, err = s.HistoryCountErrcodes(ctx, minute, minute.Add(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if want := "[+1m0s -2=1 +1m0s 43101=1]"; describeCounts(got) != want {
			t.Fatalf("HistoryCountErrcodes=%s, want %s", describeCounts(got), want)
		}
	})

	t.Run("Points", func(t *testing.T) {
		t.Parallel()
		ctx, s := t.Context(), newDB(t)(t)
		m0 := testNow.Truncate(time.Minute)
		pt := func(res int, bucket time.Time, series, key string, v int64) *store.HistoryPoint {
			return &store.HistoryPoint{Resolution: res, Bucket: bucket, Series: series, Key: key, Value: v}
		}
		list := func(p *store.HistoryRangeParams) string {
			t.Helper()
			got, err := s.HistoryList(ctx, p)
			if err != nil {
				t.Fatalf("HistoryList: %v", err)
			}
			var out []string
			for _, x := range got {
				out = append(out, fmt.Sprintf("%d +%s %s/%s=%d", x.Resolution, x.Bucket.Sub(m0), x.Series, x.Key, x.Value))
			}
			return fmt.Sprint(out)
		}
		if err := s.HistoryUpsertMany(ctx, []*store.HistoryPoint{
			pt(60, m0.Add(time.Minute), "outcome", "delivered", 3), pt(60, m0, "outcome", "delivered", 1),
			pt(60, m0, "queue", "queued", 7), pt(3600, m0.Truncate(time.Hour), "outcome", "delivered", 4),
			pt(60, m0, "outcome", "failed", 9), pt(60, m0, "outcome", "failed", 2), // the last of a key wins
		}); err != nil {
			t.Fatalf("HistoryUpsertMany: %v", err)
		}
		all := &store.HistoryRangeParams{Resolution: 60, From: m0, To: m0.Add(time.Hour)}
		if got, want := list(all), "[60 +0s outcome/delivered=1 60 +0s outcome/failed=2 60 +0s queue/queued=7 60 +1m0s outcome/delivered=3]"; got != want {
			t.Fatalf("HistoryList=%s, want %s", got, want)
		}
		// An upsert replaces the value.
		if err := s.HistoryUpsertMany(ctx, []*store.HistoryPoint{pt(60, m0, "outcome", "delivered", 5)}); err != nil {
			t.Fatal(err)
		}
		if got, want := list(&store.HistoryRangeParams{Resolution: 60, Series: []string{"outcome"}, From: m0, To: m0.Add(time.Minute)}),
			"[60 +0s outcome/delivered=5 60 +0s outcome/failed=2]"; got != want {
			t.Fatalf("after upsert: %s, want %s", got, want)
		}
		// A range delete takes only its series, resolution and buckets.
		if n, err := s.HistoryDelete(ctx, &store.HistoryRangeParams{Resolution: 60, Series: []string{"outcome"}, From: m0, To: m0.Add(time.Minute)}); err != nil || n != 2 {
			t.Fatalf("HistoryDelete=%d, %v; want 2", n, err)
		}
		if got, want := list(all), "[60 +0s queue/queued=7 60 +1m0s outcome/delivered=3]"; got != want {
			t.Fatalf("after delete: %s, want %s", got, want)
		}
		// From zero: everything before To (the retention purge).
		if n, err := s.HistoryDelete(ctx, &store.HistoryRangeParams{Resolution: 60, To: m0.Add(time.Minute)}); err != nil || n != 1 {
			t.Fatalf("HistoryDelete before=%d, %v; want 1", n, err)
		}
		if got, want := list(&store.HistoryRangeParams{Resolution: 3600, From: m0.Add(-time.Hour), To: m0.Add(time.Hour)}),
			"[3600 +0s outcome/delivered=4]"; got != want {
			t.Fatalf("hours: %s, want %s", got, want)
		}
		if err := s.HistoryUpsertMany(ctx, []*store.HistoryPoint{{Resolution: 60, Series: "outcome"}}); err == nil {
			t.Fatal("a point without a bucket was stored")
		}
	})
}

// exerciseRetry checks queue.Retry: a failed, no_credit or expired message
// is queued again in one transaction, with a fresh attempt budget, expiry
// and credit, and no outcome written; any other state is a conflict.
func exerciseRetry(t *testing.T, newDB NewDBFunc) {
	t.Run("Retry", func(t *testing.T) {
		t.Parallel()
		ctx, s := t.Context(), newDB(t)(t)
		app := testAppID(1)
		insertApp(ctx, t, s, app)
		if _, err := s.WebhookInsert(ctx, &store.WebhookInsertParams{AppID: app, URL: "https://a.example/1", SecretSealed: []byte("x"), Now: testNow}); err != nil {
			t.Fatal(err)
		}
		var ended []string
		q := &queue.Queue{Store: s, OnEnd: func(e queue.Ended) { ended = append(ended, string(e.State)) }}
		// oA has no credit; oB and oD one each, sent: failed and delivered;
		// oC expires; oE stays queued (it expires later).
		ids := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, "oA", "T", ""), newMessage(app, "oB", "T", ""),
			newMessage(app, "oD", "T", "")))
		noCredit, failed, delivered := ids[0], ids[1], ids[2]
		mustInsertCredits(ctx, t, s, subscribeCredit(app, "oB", "T", testNow), subscribeCredit(app, "oD", "T", testNow))
		if got := mustClaimQ(ctx, t, q, &queue.ClaimParams{Holder: "h", Now: testNow, LeaseUntil: testNow.Add(time.Hour), Limit: 10, CreditCutoff: testNow}); len(got) != 3 {
			t.Fatalf("claim: %s", describe(got))
		}
		lateExpiry := newMessage(app, "oE", "T", "")
		lateExpiry.ExpiresAt = testNow.Add(48 * time.Hour)
		lateExpiry.WaitForCredit = true
		more := resultIDs(mustInsertMessages(ctx, t, s, newMessage(app, "oC", "T", ""), lateExpiry))
		expired, queued := more[0], more[1]
		if _, err := q.Finish(ctx, []*queue.FinishParams{
			{ID: failed, Holder: "h", Now: testNow, State: "failed", LastError: "errcode 43101",
				KillCreditReason: "43101", Attempt: &store.Attempt{MessageID: failed, At: testNow, ErrCode: 43101, Class: "credit"}},
			{ID: delivered, Holder: "h", Now: testNow, State: "delivered", MsgID: "9", Attempt: &store.Attempt{MessageID: delivered, At: testNow}},
		}); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if got, err := q.Expire(ctx, testNow.Add(25*time.Hour)); err != nil || !slices.Contains(got, expired) {
			t.Fatalf("Expire=%v, %v; want %d among them", got, err, expired)
		}
		for _, id := range []int64{noCredit, failed, expired, delivered} {
			if st := mustGetMessage(ctx, t, s, id).State; st != map[int64]string{noCredit: "no_credit", failed: "failed", expired: "expired", delivered: "delivered"}[id] {
				t.Fatalf("message %d is %s before the retries", id, st)
			}
		}
		outbox := func() int64 {
			t.Helper()
			c, err := s.WebhookOutboxCounts(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			return c["pending"]
		}
		before, endedBefore := outbox(), len(ended)

		later := testNow.Add(30 * time.Hour)
		for _, id := range []int64{noCredit, failed, expired} {
			m, err := q.Retry(ctx, id, later)
			if err != nil {
				t.Fatalf("Retry(%d): %v", id, err)
			}
			if m.State != "queued" || m.Attempts != 0 || m.CreditID != 0 || !m.RunAt.Equal(later.Truncate(store.TimePrecision)) ||
				m.LastError != queue.RetryLastError || !m.ExpiresAt.Equal(later.Add(24*time.Hour).Truncate(store.TimePrecision)) {
				t.Fatalf("Retry(%d)=%+v", id, m)
			}
		}
		// No outcome: no outbox row, nothing told to OnEnd.
		if got := outbox(); got != before || len(ended) != endedBefore {
			t.Fatalf("Retry wrote outcomes: outbox %d→%d, OnEnd %v", before, got, ended[endedBefore:])
		}
		// The failed message's attempt stays; its next claim takes a fresh
		// credit (the first was killed).
		if as, err := s.MessageAttempts(ctx, failed); err != nil || len(as) != 1 {
			t.Fatalf("attempts of the retried message: %v, %v", as, err)
		}
		mustInsertCredits(ctx, t, s, subscribeCredit(app, "oB", "T", later))
		got := mustClaimQ(ctx, t, q, &queue.ClaimParams{Holder: "h2", Now: later, LeaseUntil: later.Add(time.Minute), Limit: 10, CreditCutoff: later})
		byID := map[int64]*store.Message{}
		for _, m := range got {
			byID[m.ID] = m
		}
		if m := byID[failed]; m == nil || m.State != "sending" || m.CreditID == 0 || m.Attempts != 1 {
			t.Fatalf("claim after retry: %s", describe(got))
		}
		if m := byID[noCredit]; m == nil || m.State != "no_credit" {
			t.Fatalf("the retried message without credit: %s", describe(got))
		}
		// Other states conflict, with the current row; unknown ids are not found.
		for _, id := range []int64{delivered, queued, failed} {
			if m, err := q.Retry(ctx, id, later); !errors.Is(err, store.ErrConflict) || m == nil || m.ID != id {
				t.Fatalf("Retry(%d)=%+v, %v; want ErrConflict with the row", id, m, err)
			}
		}
		if _, err := q.Retry(ctx, queued+100, later); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Retry of an unknown message: %v, want ErrNotFound", err)
		}
		// Zero now: the database's clock.
		if _, err := q.Retry(ctx, noCredit, time.Time{}); err != nil {
			t.Fatalf("Retry with the database's clock: %v", err)
		}
	})
}
