package history_test

import (
	"context"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/history"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
)

func operator() context.Context {
	return wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "ops", Apps: []string{wxnotify.AllApps}})
}

// sum adds up one field of every bucket.
func sum(h *wxnotify.History, field func(*wxnotify.HistoryBucket) map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for _, b := range h.Buckets {
		for k, v := range field(b) {
			out[k] += v
		}
	}
	return out
}

// TestRollup ends messages on the database's clock, runs the rollup on one
// instance and reads the same history from another, per minute and per
// hour.
func TestRollup(t *testing.T) {
	t.Parallel()
	for _, eng := range testdb.Engines(t) {
		t.Run(eng.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			open := eng.NewDB(t)
			s1, s2 := open(t), open(t)
			const app = "wx0000000000000001"
			if err := s1.AppInsert(ctx, &store.AppInsertParams{AppID: app, SecretSealed: []byte{1}, TokenMode: "stable", Now: time.Now()}); err != nil {
				t.Fatal(err)
			}
			q := queue.New(s1)
			var ps []*queue.InsertParams
			for _, u := range []string{"oA", "oB", "oC"} {
				ps = append(ps, &queue.InsertParams{MessageInsertParams: store.MessageInsertParams{AppID: app, OpenID: u, Kind: "subscribe", TemplateID: "T", Data: []byte(`{}`)}, TTL: time.Hour})
			}
			if _, err := q.Insert(ctx, ps); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"oA", "oB"} {
				if _, err := s1.CreditInsertBatch(ctx, []*store.CreditInsertParams{{AppID: app, OpenID: u, Kind: "long_term", TemplateID: "T", Uses: 1, ObtainedAt: time.Now().Add(-time.Minute), Source: "test"}}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := q.Claim(ctx, &queue.ClaimParams{Holder: "h", Limit: 10, LeaseTTL: time.Minute})
			if err != nil || len(got) != 3 {
				t.Fatalf("claim: %v, %v", got, err)
			}
			now := time.Now()
			var fin []*queue.FinishParams
			for _, m := range got {
				switch m.OpenID {
				case "oA":
					fin = append(fin, &queue.FinishParams{ID: m.ID, Holder: "h", State: "delivered", MsgID: "1", Attempt: &store.Attempt{MessageID: m.ID, At: now}})
				case "oB":
					fin = append(fin, &queue.FinishParams{ID: m.ID, Holder: "h", State: "failed", LastError: "refused",
						Attempt: &store.Attempt{MessageID: m.ID, At: now, ErrCode: 43101, ErrMsg: "user refuse", Class: "credit"}})
				}
			}
			if _, err := q.Finish(ctx, fin); err != nil {
				t.Fatal(err)
			}

			r1 := &history.Rollup{Store: s1, Credits: func(context.Context) ([]*wxnotify.CreditStock, error) {
				return []*wxnotify.CreditStock{{AppID: app, Kind: "long_term", TemplateID: "T", Uses: 4}}, nil
			}}
			for range 2 { // a recount replaces, never adds
				if err := r1.Run(ctx); err != nil {
					t.Fatalf("Run: %v", err)
				}
			}
			r2 := &history.Rollup{Store: s2} // another instance, reading only
			for _, rng := range wxnotify.HistoryRanges {
				h, err := r2.FindHistory(operator(), rng)
				if err != nil {
					t.Fatalf("FindHistory(%s): %v", rng, err)
				}
				wantN := map[string]int{"1h": 60, "24h": 1440, "30d": 720}[rng]
				if len(h.Buckets) != wantN || h.ResolutionSeconds != map[string]int{"1h": 60, "24h": 60, "30d": 3600}[rng] {
					t.Fatalf("%s: %d buckets of %ds", rng, len(h.Buckets), h.ResolutionSeconds)
				}
				out := sum(h, func(b *wxnotify.HistoryBucket) map[string]int64 { return b.Outcomes })
				if out["delivered"] != 1 || out["failed"] != 1 || out["no_credit"] != 1 || len(out) != 3 {
					t.Fatalf("%s: outcomes %v, want delivered, failed and no_credit 1 each", rng, out)
				}
				if errs := sum(h, func(b *wxnotify.HistoryBucket) map[string]int64 { return b.Errcodes }); errs["43101"] != 1 || len(errs) != 1 {
					t.Fatalf("%s: errcodes %v, want 43101 once", rng, errs)
				}
				last := h.Buckets[len(h.Buckets)-1]
				if last.Queue == nil || last.Queue["queued"] != 0 || last.Credits[app+"/T"] != 4 {
					t.Fatalf("%s: the current bucket's gauges: queue %v credits %v", rng, last.Queue, last.Credits)
				}
				if first := h.Buckets[0]; first.Outcomes == nil || first.Errcodes == nil || first.Queue != nil {
					t.Fatalf("%s: an empty bucket: %+v", rng, first)
				}
			}
			if _, err := r2.FindHistory(operator(), "7d"); wxnotify.ErrorCode(err) != wxnotify.EINVALID {
				t.Fatalf("unknown range: %v", err)
			}
			appKey := wxnotify.NewContextWithAPIKey(ctx, &wxnotify.APIKey{ID: "k", Apps: []string{app}})
			if _, err := r2.FindHistory(appKey, "1h"); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
				t.Fatalf("an app's key: %v, want EFORBIDDEN", err)
			}
			// Pruning keeps what is recent.
			if err := r1.Prune(ctx); err != nil {
				t.Fatal(err)
			}
			if h, err := r2.FindHistory(operator(), "1h"); err != nil || sum(h, func(b *wxnotify.HistoryBucket) map[string]int64 { return b.Outcomes })["delivered"] != 1 {
				t.Fatalf("after Prune: %v", err)
			}
		})
	}
}
