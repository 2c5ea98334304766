package ledger_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/jobs"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/store"
)

const (
	appID  = "wx0123456789abcdef"
	openID = "oUSER000000000001"
	tpl    = "TPL-order-shipped"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testBundle is one database with one app, a ledger on it, and its clock.
type testBundle struct {
	svc   *ledger.Service
	store store.Driver
	mu    sync.Mutex
	now   time.Time
}

func (tb *testBundle) advance(d time.Duration) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.now = tb.now.Add(d)
}

// forEngine runs f on every engine, each in a fresh database.
func forEngine(t *testing.T, f func(t *testing.T, tb *testBundle)) {
	t.Helper()
	for _, e := range testdb.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			s := e.NewDB(t)(t)
			if err := s.AppInsert(t.Context(), &store.AppInsertParams{
				AppID: appID, Name: "app", SecretSealed: []byte("x"), TokenMode: "stable", Now: t0,
			}); err != nil {
				t.Fatal(err)
			}
			tb := &testBundle{store: s, now: t0}
			tb.svc = &ledger.Service{Store: s, Now: func() time.Time {
				tb.mu.Lock()
				defer tb.mu.Unlock()
				return tb.now
			}}
			f(t, tb)
		})
	}
}

func checkCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := wxnotify.ErrorCode(err); got != code {
		t.Fatalf("err=%v, want code %s", err, code)
	}
	if got := wxnotify.ErrorField(err); got != field {
		t.Fatalf("field=%q, want %q (err=%v)", got, field, err)
	}
}

func stocks(t *testing.T, tb *testBundle, f wxnotify.CreditFilter) []string {
	t.Helper()
	rows, err := tb.svc.CreditStocks(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s/%s uses=%d rej=%d", r.Kind, r.TemplateID, r.Uses, r.Rejections))
	}
	return out
}

func checkStocks(t *testing.T, tb *testBundle, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := stocks(t, tb, wxnotify.CreditFilter{}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stocks=%v, want %v", got, want)
	}
}

func TestService_AddFormIDs(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			n, err := tb.svc.AddFormIDs(ctx, appID, openID, wxnotify.CreditFormID,
				[]string{"f1", wxnotify.MockFormID, "f2", "f1"}, "")
			if err != nil || n != 2 {
				t.Fatalf("AddFormIDs=%d, %v; want 2", n, err)
			}
			if n, err := tb.svc.AddFormIDs(ctx, appID, openID, wxnotify.CreditFormID, []string{"f2"}, ""); err != nil || n != 0 {
				t.Fatalf("AddFormIDs again=%d, %v; want 0", n, err)
			}
			if n, err := tb.svc.AddFormIDs(ctx, appID, openID, wxnotify.CreditPrepayID, []string{"p1"}, "api"); err != nil || n != 1 {
				t.Fatalf("AddFormIDs prepay=%d, %v; want 1", n, err)
			}
			checkStocks(t, tb, "form_id/ uses=2 rej=0", "prepay_id/ uses=3 rej=0")
			c, err := tb.svc.SpendCredit(ctx, appID, openID, "")
			if err != nil {
				t.Fatal(err)
			}
			if c.Kind != wxnotify.CreditFormID || c.Value.Reveal() != "f1" || c.Source != ledger.SourceMiniProgram ||
				!c.ExpiresAt.Equal(t0.Add(wxnotify.FormIDLifetime)) {
				t.Fatalf("spent %+v", c)
			}
			if s := fmt.Sprintf("%v %+v", c.Value, c); strings.Contains(s, "f1") {
				t.Fatalf("value printed: %s", s)
			}
		})
	})
	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			many := make([]string, wxnotify.MaxFormIDsPerReport+1)
			for i := range many {
				many[i] = fmt.Sprint("f", i)
			}
			for _, c := range []struct {
				name        string
				app, user   string
				kind        wxnotify.CreditKind
				values      []string
				code, field string
			}{
				{"NoAppID", "", openID, wxnotify.CreditFormID, []string{"a"}, wxnotify.EINVALID, "appid"},
				{"NoOpenID", appID, "", wxnotify.CreditFormID, []string{"a"}, wxnotify.EINVALID, "openid"},
				{"Kind", appID, openID, wxnotify.CreditSubscribe, []string{"a"}, wxnotify.EINVALID, "kind"},
				{"EmptyValue", appID, openID, wxnotify.CreditFormID, []string{"a", ""}, wxnotify.EINVALID, "values[1]"},
				{"LongValue", appID, openID, wxnotify.CreditFormID, []string{"a", strings.Repeat("x", ledger.MaxValueLen+1)}, wxnotify.EINVALID, "values[1]"},
				{"TooMany", appID, openID, wxnotify.CreditFormID, many, wxnotify.EINVALID, "values"},
				{"UnknownApp", "wx0000000000000009", openID, wxnotify.CreditFormID, []string{"a"}, wxnotify.ENOTFOUND, ""},
			} {
				_, err := tb.svc.AddFormIDs(ctx, c.app, c.user, c.kind, c.values, "")
				checkCode(t, err, c.code, c.field)
			}
			checkStocks(t, tb) // nothing half-written
		})
	})
}

func TestService_SpendCredit(t *testing.T) {
	t.Parallel()
	t.Run("SafetyMargin", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			tb.svc.AddFormIDs(ctx, appID, openID, wxnotify.CreditFormID, []string{"f1", "f2"}, "")
			// Usable until 7 days minus the 24h margin.
			tb.advance(6*24*time.Hour - time.Microsecond)
			if _, err := tb.svc.SpendCredit(ctx, appID, openID, ""); err != nil {
				t.Fatalf("just before the margin: %v", err)
			}
			tb.advance(time.Microsecond)
			_, err := tb.svc.SpendCredit(ctx, appID, openID, "")
			checkCode(t, err, wxnotify.ENOTFOUND, "")
			// Not purged before its real expiry.
			if n, err := tb.svc.PurgeCredits(ctx); err != nil || n != 0 {
				t.Fatalf("PurgeCredits=%d, %v; want 0", n, err)
			}
			tb.advance(24 * time.Hour)
			if n, err := tb.svc.PurgeCredits(ctx); err != nil || n != 2 {
				t.Fatalf("PurgeCredits=%d, %v; want 2 (f1 used up, f2 expired)", n, err)
			}
		})
	})
	t.Run("RefundKillPurge", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			tb.svc.AddFormIDs(ctx, appID, openID, wxnotify.CreditPrepayID, []string{"p1"}, "")
			c, err := tb.svc.SpendCredit(ctx, appID, openID, "")
			if err != nil || c.UsesLeft != 2 {
				t.Fatalf("SpendCredit=%+v, %v", c, err)
			}
			if err := tb.svc.RefundCredit(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			checkStocks(t, tb, "prepay_id/ uses=3 rej=0")
			checkCode(t, tb.svc.KillCredit(ctx, c.ID, ""), wxnotify.EINVALID, "reason")
			if err := tb.svc.KillCredit(ctx, c.ID, "41028"); err != nil {
				t.Fatal(err)
			}
			_, err = tb.svc.SpendCredit(ctx, appID, openID, "")
			checkCode(t, err, wxnotify.ENOTFOUND, "")
			if n, err := tb.svc.PurgeCredits(ctx); err != nil || n != 1 {
				t.Fatalf("PurgeCredits=%d, %v; want 1", n, err)
			}
			checkCode(t, tb.svc.RefundCredit(ctx, c.ID), wxnotify.ENOTFOUND, "")
			checkCode(t, tb.svc.KillCredit(ctx, c.ID, "x"), wxnotify.ENOTFOUND, "")
		})
	})
}

func TestService_RecordSubscribeResult(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			if err := tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{
				"errMsg": "requestSubscribeMessage:ok", "A": "accept", "B": "reject", "C": "ban", "D": "filter",
				"E": "acceptWithAudio", // an acceptance with a voice reminder
			}, ""); err != nil {
				t.Fatal(err)
			}
			tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{"A": "accept", "B": "accept"}, "")
			checkStocks(t, tb, "subscribe/A uses=2 rej=0", "subscribe/B uses=1 rej=1", "subscribe/E uses=1 rej=0")
			for _, want := range []string{"A", "A", "B"} {
				c, err := tb.svc.SpendCredit(ctx, appID, openID, want)
				if err != nil || c.TemplateID != want || !c.ExpiresAt.IsZero() {
					t.Fatalf("SpendCredit(%s)=%+v, %v", want, c, err)
				}
			}
			_, err := tb.svc.SpendCredit(ctx, appID, openID, "A")
			checkCode(t, err, wxnotify.ENOTFOUND, "")
		})
	})
	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			err := tb.svc.RecordSubscribeResult(t.Context(), appID, openID,
				map[string]wxnotify.SubscribeChoice{"A": "accept", "B": "maybe"}, "")
			checkCode(t, err, wxnotify.EINVALID, "result.B")
			checkStocks(t, tb)
		})
	})
}

func TestService_LongTerm(t *testing.T) {
	// A long-term template (type 3) accepted once is one long-term
	// subscription: it is never used up, a second acceptance adds nothing,
	// turning it off kills it and turning it back on grants it again.
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx := t.Context()
		if err := tb.store.TemplateUpsert(ctx, appID, &store.Template{AppID: appID, TemplateID: "LT", Kind: "subscribe",
			Title: "预约提醒", Type: wxnotify.TemplateLongTerm, Keywords: []byte("[]")}, t0); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{"LT": "accept", "A": "accept"}, ""); err != nil {
				t.Fatal(err)
			}
		}
		checkStocks(t, tb, "long_term/LT uses=1 rej=0", "subscribe/A uses=2 rej=0")
		for i := range 5 {
			if c, err := tb.svc.SpendCredit(ctx, appID, openID, "LT"); err != nil || c.Kind != wxnotify.CreditLongTerm {
				t.Fatalf("spend %d of the long-term subscription: %+v, %v", i, c, err)
			}
		}
		change := func(status string, at time.Time) {
			t.Helper()
			if err := tb.svc.HandleEvents(ctx, []*wxnotify.Event{{AppID: appID, Type: wxnotify.EventSubscribeChange,
				OpenID: openID, TemplateID: "LT", Status: status, CreateTime: at}}); err != nil {
				t.Fatal(err)
			}
		}
		change("reject", t0.Add(time.Minute))
		checkStocks(t, tb, "subscribe/A uses=2 rej=0")
		change("accept", t0.Add(2*time.Minute))
		checkStocks(t, tb, "long_term/LT uses=1 rej=0", "subscribe/A uses=2 rej=0")
	})
}

func TestService_HandleEvents(t *testing.T) {
	t.Parallel()
	popup := func(status string, at time.Time) *wxnotify.Event {
		return &wxnotify.Event{AppID: appID, Type: wxnotify.EventSubscribePopup, OpenID: openID, TemplateID: tpl,
			Status: status, PopupScene: "0", CreateTime: at}
	}
	t.Run("PageGrantsByDefault", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			// One acceptance, reported by the page and pushed by WeChat.
			tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{tpl: "accept"}, "")
			if err := tb.svc.HandleEvents(ctx, []*wxnotify.Event{popup("accept", t0), popup("reject", t0.Add(time.Second))}); err != nil {
				t.Fatal(err)
			}
			checkStocks(t, tb, "subscribe/"+tpl+" uses=1 rej=0")
			// The event was stored: storing it again is a repeat.
			if ok, err := tb.store.EventInsert(ctx, &store.Event{AppID: appID, Type: wxnotify.EventSubscribePopup,
				OpenID: openID, TemplateID: tpl, CreateTime: t0, ReceivedAt: t0}); err != nil || ok {
				t.Fatalf("EventInsert of a handled event=%v, %v; want false", ok, err)
			}
		})
	})
	t.Run("PopupEventsGrant", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			tb.svc.PopupEventsGrant = true
			tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{tpl: "accept", "X": "ban"}, "")
			events := []*wxnotify.Event{popup("accept", t0), popup("reject", t0.Add(time.Second))}
			for range 2 { // WeChat repeats the push
				if err := tb.svc.HandleEvents(ctx, events); err != nil {
					t.Fatal(err)
				}
			}
			checkStocks(t, tb, "subscribe/"+tpl+" uses=1 rej=1")
			c, err := tb.svc.SpendCredit(ctx, appID, openID, tpl)
			if err != nil || c.Source != ledger.SourceEvent {
				t.Fatalf("SpendCredit=%+v, %v; want source event", c, err)
			}
			if got := stocks(t, tb, wxnotify.CreditFilter{}); len(got) != 0 {
				t.Fatalf("stocks=%v", got)
			}
		})
	})
	t.Run("ChangeRejectKills", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{tpl: "accept", "other": "accept"}, "")
			tb.svc.RecordSubscribeResult(ctx, appID, openID, map[string]wxnotify.SubscribeChoice{tpl: "accept"}, "")
			if err := tb.svc.HandleEvents(ctx, []*wxnotify.Event{{AppID: appID, Type: wxnotify.EventSubscribeChange,
				OpenID: openID, TemplateID: tpl, Status: "reject", CreateTime: t0}}); err != nil {
				t.Fatal(err)
			}
			checkStocks(t, tb, "subscribe/other uses=1 rej=0")
		})
	})
	t.Run("SentStored", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			ctx := t.Context()
			if err := tb.svc.HandleEvents(ctx, []*wxnotify.Event{{AppID: appID, Type: wxnotify.EventSubscribeSent,
				OpenID: openID, TemplateID: tpl, Status: "success", MsgID: "123456", CreateTime: t0}}); err != nil {
				t.Fatal(err)
			}
			got, err := tb.store.EventListByMsgID(ctx, appID, "123456")
			if err != nil || len(got) != 1 || got[0].Status != "success" || !got[0].ReceivedAt.Equal(t0) {
				t.Fatalf("EventListByMsgID=%+v, %v", got, err)
			}
		})
	})
	t.Run("InvalidStoresNothing", func(t *testing.T) {
		t.Parallel()
		forEngine(t, func(t *testing.T, tb *testBundle) {
			tb.svc.PopupEventsGrant = true
			err := tb.svc.HandleEvents(t.Context(), []*wxnotify.Event{popup("accept", t0), {AppID: appID, Type: "x", CreateTime: t0}})
			checkCode(t, err, wxnotify.EINVALID, "events[1].openid")
			checkStocks(t, tb)
		})
	})
}

// signalHandler is a slog.Handler that sends each message to C.
type signalHandler struct{ C chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	h.C <- r.Message
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestService_PurgeJob runs the credit-purge job as serve does (a
// jobs.Runner), and checks that its first run purges and says so.
func TestService_PurgeJob(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, tb *testBundle) {
		ctx, cancel := context.WithCancel(t.Context())
		tb.svc.AddFormIDs(ctx, appID, openID, wxnotify.CreditFormID, []string{"f1"}, "")
		tb.advance(wxnotify.FormIDLifetime)
		logs := signalHandler{C: make(chan string, 10)}
		tb.svc.Logger = slog.New(logs)
		done := make(chan struct{})
		go func() {
			r := &jobs.Runner{Entries: []jobs.Entry{{Name: "credit_purge", Interval: time.Hour, Job: jobs.Func(tb.svc.Purge)}}}
			r.Run(ctx)
			close(done)
		}()
		if msg := <-logs.C; msg != "credits purged" {
			t.Fatalf("log %q, want credits purged", msg)
		}
		cancel()
		<-done
		if n, err := tb.svc.PurgeCredits(t.Context()); err != nil || n != 0 {
			t.Fatalf("PurgeCredits after the purge job=%d, %v; want 0", n, err)
		}
	})
}
