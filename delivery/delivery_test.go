package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/jobs"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storetest"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "delivery-test-secret"
	user   = "oUSER0000000000001"
)

// testBundle is a simulated WeChat, a database, and the services of one
// wxnotify instance over them.
type testBundle struct {
	sim       *wechatsim.Server
	open      storetest.OpenFunc
	box       *seal.Box
	client    *wechat.Client
	clientURL string
	svc       *delivery.Service
	ledger    *ledger.Service
	tpl       string // a subscribe template: thing1, time2
	legacy    string // a legacy template: keyword1, keyword2
	mu        sync.Mutex
	outcome   map[int64]string
}

func setup(t *testing.T, engine testdb.Engine) *testBundle {
	t.Helper()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	tb := &testBundle{
		sim:       sim,
		open:      engine.NewDB(t),
		box:       box,
		client:    wechat.New(wechat.Options{BaseURL: srv.URL}),
		clientURL: srv.URL,
		tpl:       sim.AddTemplateDirect(appID, "发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品"}, wechatsim.Keyword{Key: "time2", Name: "时间"}),
		legacy:    sim.AddLegacyTemplateDirect(appID, "订单通知", "单号", "状态"),
		outcome:   map[int64]string{},
	}
	st := tb.open(t)
	apps := &token.AppService{Store: st, Box: box}
	if err := apps.CreateApp(context.Background(), &wxnotify.App{AppID: appID, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	tb.ledger = &ledger.Service{Store: st}
	tb.svc = &delivery.Service{Queue: queue.New(st), Store: st, Apps: apps}
	return tb
}

// pipeline starts one instance's pipeline on its own connections.
func (tb *testBundle) pipeline(t *testing.T, name string, opts ...func(*delivery.Pipeline)) (*delivery.Pipeline, *atomic.Int64) {
	t.Helper()
	st := tb.open(t)
	var sent atomic.Int64
	q := &queue.Queue{Store: st, OnEnd: func(e queue.Ended) {
		if e.State == wxnotify.MessageDelivered {
			sent.Add(1)
		}
		tb.mu.Lock()
		tb.outcome[e.Message.ID] = string(e.State)
		tb.mu.Unlock()
	}}
	p := &delivery.Pipeline{
		Queue:        q,
		Tokens:       &token.Service{Store: st, Box: tb.box, Fetcher: token.WeChatFetcher{Client: tb.client}, Holder: name},
		Client:       tb.client,
		Holder:       name,
		MinBackoff:   time.Millisecond,
		MaxBackoff:   5 * time.Millisecond,
		PollInterval: 5 * time.Millisecond,
	}
	for _, o := range opts {
		o(p)
	}
	// The pipeline's scheduled jobs, as serve runs them, only faster.
	maint := &jobs.Runner{Entries: []jobs.Entry{
		{Name: "lease_recovery", Interval: 20 * time.Millisecond, Job: jobs.Func(p.RecoverLeases)},
		{Name: "message_expiry", Interval: 20 * time.Millisecond, Job: jobs.Func(p.ExpireMessages)},
		{Name: "waiting_requeue", Interval: 20 * time.Millisecond, Job: jobs.Func(p.RequeueWaiting)},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { p.Run(ctx); done <- struct{}{} }()
	go func() { maint.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	tb.svc.Wake = p.Wake
	return p, &sent
}

func ctxAll() context.Context {
	return wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "test", Apps: []string{wxnotify.AllApps}})
}

func (tb *testBundle) enqueue(t *testing.T, m *wxnotify.Message) int64 {
	t.Helper()
	if m.AppID == "" {
		m.AppID = appID
	}
	if m.OpenID == "" {
		m.OpenID = user
	}
	if m.TemplateID == "" {
		m.TemplateID = tb.tpl
		if m.Kind == wxnotify.MessageTemplate {
			m.TemplateID = tb.legacy
		}
	}
	if m.Data == nil {
		m.Data = map[string]string{"thing1": "书", "time2": "2026-11-25 10:00"}
		if m.Kind == wxnotify.MessageTemplate {
			m.Data = map[string]string{"keyword1": "A100", "keyword2": "已发货"}
		}
	}
	if _, err := tb.svc.Enqueue(ctxAll(), m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// grant gives the user n acceptances of the template, on WeChat's side
// and in the ledger, as the page reporting wx.requestSubscribeMessage would.
func (tb *testBundle) grant(t *testing.T, openID string, n int) {
	t.Helper()
	tb.sim.GrantSubscribe(appID, openID, tb.tpl, n)
	for range n {
		if err := tb.ledger.RecordSubscribeResult(context.Background(), appID, openID, map[string]wxnotify.SubscribeChoice{tb.tpl: wxnotify.SubscribeAccept}, "test"); err != nil {
			t.Fatal(err)
		}
	}
}

// wait polls the message until it is in a terminal state.
func (tb *testBundle) wait(t *testing.T, id int64) (*wxnotify.Message, []*wxnotify.Attempt) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, attempts, err := tb.svc.FindMessageByID(ctxAll(), id)
		if err != nil {
			t.Fatal(err)
		}
		if m.State.Terminal() {
			return m, attempts
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d still %s after 20s (attempts %d, last error %q)", id, m.State, m.Attempts, m.LastError)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantState(t *testing.T, m *wxnotify.Message, want wxnotify.MessageState) {
	t.Helper()
	if m.State != want {
		t.Fatalf("message %d state=%s (last error %q), want %s", m.ID, m.State, m.LastError, want)
	}
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()

			t.Run("SubscribeDelivered", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				tb.grant(t, user, 1)
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{Page: "pages/order?id=1"}))
				wantState(t, m, wxnotify.MessageDelivered)
				inbox := tb.sim.Inbox(appID, user)
				if len(inbox) != 1 || inbox[0].Data["thing1"] != "书" || fmt.Sprint(inbox[0].MsgID) != m.MsgID {
					t.Fatalf("inbox=%+v msgid=%s", inbox, m.MsgID)
				}
				if len(attempts) != 1 || attempts[0].ErrCode != 0 {
					t.Fatalf("attempts=%+v", attempts)
				}
			})
			t.Run("LegacyWithFormID", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				// A form_id WeChat never issued comes first: 41028 kills it and
				// the next one, a real one, carries the message.
				if _, err := tb.ledger.AddFormIDs(context.Background(), appID, user, wxnotify.CreditFormID, []string{"bogus-form-id-0001"}, "test"); err != nil {
					t.Fatal(err)
				}
				real := tb.sim.MintFormID(appID, user)
				if _, err := tb.ledger.AddFormIDs(context.Background(), appID, user, wxnotify.CreditFormID, []string{real}, "test"); err != nil {
					t.Fatal(err)
				}
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{Kind: wxnotify.MessageTemplate, EmphasisKeyword: "keyword1.DATA"}))
				wantState(t, m, wxnotify.MessageDelivered)
				if len(attempts) != 2 || attempts[0].ErrCode != 41028 || attempts[1].ErrCode != 0 {
					t.Fatalf("attempts=%+v, want 41028 then ok", attempts)
				}
				inbox := tb.sim.Inbox(appID, user)
				if len(inbox) != 1 || inbox[0].FormID != real {
					t.Fatalf("inbox=%+v", inbox)
				}
			})
			t.Run("NoCredit", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageNoCredit)
				if len(attempts) != 0 || tb.sim.Calls("/cgi-bin/message/subscribe/send", appID) != 0 {
					t.Fatal("WeChat called without a credit")
				}
			})
			t.Run("WaitForCredit", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				id := tb.enqueue(t, &wxnotify.Message{WaitForCredit: true})
				deadline := time.Now().Add(10 * time.Second)
				for {
					m, _, _ := tb.svc.FindMessageByID(ctxAll(), id)
					if m.State == wxnotify.MessageWaitingCredit {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("state=%s, want waiting_credit", m.State)
					}
					time.Sleep(5 * time.Millisecond)
				}
				tb.grant(t, user, 1)
				m, _ := tb.wait(t, id)
				wantState(t, m, wxnotify.MessageDelivered)
			})
			t.Run("RetryThenDelivered", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				tb.grant(t, user, 1)
				tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/message/subscribe/send", Count: 2, ErrCode: -1})
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageDelivered)
				if len(attempts) != 3 || attempts[0].ErrCode != -1 || attempts[0].Class != "retry" {
					t.Fatalf("attempts=%+v, want -1, -1, ok", attempts)
				}
				if len(tb.sim.Inbox(appID, user)) != 1 {
					t.Fatal("not delivered exactly once")
				}
			})
			t.Run("ThrottleDoesNotUseUpRetries", func(t *testing.T) {
				// 45011 five times, with 2 attempts allowed: the app waits
				// after each, and the message is still delivered, once.
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a", func(p *delivery.Pipeline) { p.MaxAttempts, p.ThrottlePause = 2, time.Millisecond })
				tb.grant(t, user, 1)
				tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/message/subscribe/send", Count: 5, ErrCode: 45011})
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageDelivered)
				if len(attempts) != 6 || attempts[0].ErrCode != 45011 || attempts[0].Class != "throttle" || attempts[5].ErrCode != 0 || attempts[5].N != 6 {
					t.Fatalf("attempts=%+v, want 5 × 45011 then ok, numbered 1..6", attempts)
				}
				if m.Attempts != 1 {
					t.Fatalf("message attempts=%d, want 1 (45011 does not count)", m.Attempts)
				}
				if len(tb.sim.Inbox(appID, user)) != 1 {
					t.Fatal("not delivered exactly once")
				}
			})
			t.Run("RevokedToken", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				tb.grant(t, user, 2)
				m, _ := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageDelivered)
				before := tb.sim.Calls("/cgi-bin/stable_token", appID)
				tb.sim.RevokeTokens(appID)
				m, _ = tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageDelivered)
				if got := tb.sim.Calls("/cgi-bin/stable_token", appID) - before; got != 1 {
					t.Fatalf("token fetches after revocation=%d, want 1", got)
				}
			})
			t.Run("PermanentFailsAndRefunds", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				tb.grant(t, user, 1)
				// The template was deleted on WeChat's side.
				tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/message/subscribe/send", Count: 1, ErrCode: 40037})
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageFailed)
				if len(attempts) != 1 || attempts[0].ErrCode != 40037 {
					t.Fatalf("attempts=%+v, want one 40037", attempts)
				}
				// The acceptance was not used up: the next message goes out with it.
				m, _ = tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageDelivered)
			})
			t.Run("QuotaHoldsTheApp", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				tb.grant(t, user, 1)
				tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/message/subscribe/send", Count: 1, ErrCode: 45009})
				id := tb.enqueue(t, &wxnotify.Message{})
				deadline := time.Now().Add(10 * time.Second)
				for {
					m, attempts, _ := tb.svc.FindMessageByID(ctxAll(), id)
					if len(attempts) == 1 && m.State == wxnotify.MessageQueued {
						if attempts[0].ErrCode != 45009 || !m.SendAt.After(time.Now().Add(time.Minute)) {
							t.Fatalf("message %+v attempts %+v: want held until the quota resets", m, attempts)
						}
						break
					}
					if time.Now().After(deadline) || m.State.Terminal() {
						t.Fatalf("state=%s attempts=%d", m.State, len(attempts))
					}
					time.Sleep(5 * time.Millisecond)
				}
			})
			t.Run("IdempotencyAndCancel", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				first := tb.enqueue(t, &wxnotify.Message{IdempotencyKey: "order-1", SendAt: time.Now().Add(time.Hour)})
				again := &wxnotify.Message{AppID: appID, OpenID: user, TemplateID: tb.tpl, IdempotencyKey: "order-1",
					Data: map[string]string{"time2": "2026-11-25 10:00", "thing1": "书"}}
				created, err := tb.svc.Enqueue(ctxAll(), again)
				if err != nil || created || again.ID != first {
					t.Fatalf("replay: created=%v id=%d err=%v, want the first message %d", created, again.ID, err, first)
				}
				// The same key with other data is not a retry.
				other := &wxnotify.Message{AppID: appID, OpenID: user, TemplateID: tb.tpl, IdempotencyKey: "order-1",
					Data: map[string]string{"thing1": "x", "time2": "2026-11-25 10:00"}}
				_, err = tb.svc.Enqueue(ctxAll(), other)
				if wxnotify.ErrorCode(err) != wxnotify.ECONFLICT || wxnotify.ErrorField(err) != "idempotency_key" ||
					!strings.Contains(wxnotify.ErrorMessage(err), fmt.Sprintf("message %d", first)) || !strings.Contains(wxnotify.ErrorMessage(err), "data") {
					t.Fatalf("same key, other data: %v; want a conflict naming message %d and data", err, first)
				}
				m, err := tb.svc.CancelMessage(ctxAll(), first)
				if err != nil || m.State != wxnotify.MessageCancelled {
					t.Fatalf("cancel: %+v %v", m, err)
				}
				if _, err := tb.svc.CancelMessage(ctxAll(), first); wxnotify.ErrorCode(err) != wxnotify.ECONFLICT {
					t.Fatalf("cancel twice: %v", err)
				}
			})
			t.Run("DelayedNotBeforeSendAt", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				tb.pipeline(t, "a")
				tb.grant(t, user, 1)
				sendAt := time.Now().Add(300 * time.Millisecond)
				m, attempts := tb.wait(t, tb.enqueue(t, &wxnotify.Message{SendAt: sendAt}))
				wantState(t, m, wxnotify.MessageDelivered)
				if attempts[0].At.Before(sendAt.Truncate(time.Microsecond)) {
					t.Fatalf("sent at %v, before send_at %v", attempts[0].At, sendAt)
				}
			})
			t.Run("AccessIsPerApp", func(t *testing.T) {
				t.Parallel()
				tb := setup(t, engine)
				id := tb.enqueue(t, &wxnotify.Message{SendAt: time.Now().Add(time.Hour)})
				other := wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "b", Apps: []string{"wxbbbbbbbbbbbbbbbb"}})
				if _, _, err := tb.svc.FindMessageByID(other, id); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
					t.Fatalf("other app's key reads the message: %v", err)
				}
				if _, err := tb.svc.Enqueue(other, &wxnotify.Message{AppID: appID, OpenID: user, TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}}); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
					t.Fatalf("other app's key sends: %v", err)
				}
				if _, err := tb.svc.CancelMessage(other, id); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
					t.Fatalf("other app's key cancels: %v", err)
				}
			})
		})
	}
}

// TestPipeline_TwoInstances: two pipelines on one database share the work;
// every message is delivered exactly once and both send.
func TestPipeline_TwoInstances(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, engine)
			const n = 2000
			users := 200
			for u := range users {
				tb.grant(t, fmt.Sprintf("oUSER%013d", u), n/users)
			}
			_, sentA := tb.pipeline(t, "a")
			_, sentB := tb.pipeline(t, "b")
			var ids []int64
			for i := range n {
				ids = append(ids, tb.enqueue(t, &wxnotify.Message{OpenID: fmt.Sprintf("oUSER%013d", i%users)}))
			}
			for _, id := range ids {
				m, _ := tb.wait(t, id)
				wantState(t, m, wxnotify.MessageDelivered)
			}
			if got := tb.sim.DeliveredCount(appID); got != n {
				t.Fatalf("WeChat received %d messages, want %d exactly", got, n)
			}
			if engine.Name == "postgres" && (sentA.Load() == 0 || sentB.Load() == 0) {
				t.Fatalf("work not shared: a=%d b=%d", sentA.Load(), sentB.Load())
			}
			t.Logf("a=%d b=%d", sentA.Load(), sentB.Load())
		})
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ok := func() *wxnotify.Message {
		return &wxnotify.Message{AppID: appID, OpenID: user, TemplateID: "T", Data: map[string]string{"thing1": "书", "number2": "12"}}
	}
	if m := ok(); delivery.Prepare(m, now) != nil || m.Kind != wxnotify.MessageSubscribe || !m.ExpiresAt.After(now) {
		t.Fatalf("defaults not filled: %+v", m)
	}
	for field, mutate := range map[string]func(*wxnotify.Message){
		"openid":      func(m *wxnotify.Message) { m.OpenID = "" },
		"template_id": func(m *wxnotify.Message) { m.TemplateID = "" },
		"kind":        func(m *wxnotify.Message) { m.Kind = "sms" },
		"data":        func(m *wxnotify.Message) { m.Data = nil },
		"data.thing1": func(m *wxnotify.Message) {
			m.Data["thing1"] = "一二三四五六七八九十一二三四五六七八九十一"
		},
		"data.number2":      func(m *wxnotify.Message) { m.Data["number2"] = "twelve" },
		"data.bogus":        func(m *wxnotify.Message) { m.Data["bogus"] = "x" },
		"miniprogram_state": func(m *wxnotify.Message) { m.MiniprogramState = "beta" },
		"lang":              func(m *wxnotify.Message) { m.Lang = "fr" },
		"emphasis_keyword":  func(m *wxnotify.Message) { m.EmphasisKeyword = "thing1.DATA" },
		"ttl":               func(m *wxnotify.Message) { m.ExpiresAt = now.Add(-time.Second) },
	} {
		m := ok()
		mutate(m)
		if err := delivery.Prepare(m, now); wxnotify.ErrorField(err) != field {
			t.Errorf("%s: err=%v", field, err)
		}
	}
}

// inFlight counts concurrent requests through a transport.
type inFlight struct {
	rt       http.RoundTripper
	mu       sync.Mutex
	now, max int
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/message/") {
		f.mu.Lock()
		f.now++
		f.max = max(f.max, f.now)
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.now--; f.mu.Unlock() }()
	}
	return f.rt.RoundTrip(r)
}

// TestPipeline_AppConcurrency: one app never has more sends in flight than
// its bound, however many senders are free.
func TestPipeline_AppConcurrency(t *testing.T) {
	t.Parallel()
	tb := setup(t, testdb.Engines(t)[0])
	tb.sim.SetLatency(10*time.Millisecond, 0)
	counter := &inFlight{rt: http.DefaultTransport}
	tb.client = wechat.New(wechat.Options{BaseURL: tb.clientURL, HTTPClient: &http.Client{Transport: counter}})
	tb.pipeline(t, "a", func(p *delivery.Pipeline) { p.AppConcurrency = 3 })
	var ids []int64
	for i := range 30 {
		u := fmt.Sprintf("oUSER%012d", i) // distinct users: one user's sends are one at a time anyway
		tb.grant(t, u, 1)
		ids = append(ids, tb.enqueue(t, &wxnotify.Message{OpenID: u}))
	}
	for _, id := range ids {
		m, _ := tb.wait(t, id)
		wantState(t, m, wxnotify.MessageDelivered)
	}
	if counter.max > 3 || counter.max < 2 {
		t.Fatalf("at most %d sends were in flight, want 2..3", counter.max)
	}
}

// TestPipeline_AmbiguousResolvedBySentEvent: messages held by an instance
// that died are settled by WeChat's subscribe_msg_sent_event, whether it
// arrived before the recovery or after; without one they stay ambiguous.
func TestPipeline_AmbiguousResolvedBySentEvent(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, engine)
			tb.grant(t, user, 3)
			ids := []int64{tb.enqueue(t, &wxnotify.Message{}), tb.enqueue(t, &wxnotify.Message{}), tb.enqueue(t, &wxnotify.Message{})}
			// An instance claims all three and dies before recording anything.
			st := tb.open(t)
			now := time.Now()
			claimed, err := queue.New(st).Claim(context.Background(), &queue.ClaimParams{Holder: "dead", Now: now,
				LeaseUntil: now.Add(50 * time.Millisecond), Limit: 10, CreditCutoff: now})
			if err != nil || len(claimed) != 3 {
				t.Fatalf("claim=%d, %v", len(claimed), err)
			}
			resolver := &delivery.EventResolver{Events: tb.ledger, Queue: queue.New(st)}
			sent := func(msgID string) {
				t.Helper()
				if err := resolver.HandleEvents(context.Background(), []*wxnotify.Event{{AppID: appID, Type: wxnotify.EventSubscribeSent,
					OpenID: user, TemplateID: tb.tpl, Status: "success", MsgID: msgID, CreateTime: time.Now()}}); err != nil {
					t.Fatal(err)
				}
			}
			sent("777000001") // it did reach WeChat, and WeChat told us before the recovery
			tb.pipeline(t, "b")
			// Recovery marks them ambiguous, then settles what the events
			// tell; wait for that.
			countStates := func() map[wxnotify.MessageState]int {
				states := map[wxnotify.MessageState]int{}
				for _, id := range ids {
					m, _, _ := tb.svc.FindMessageByID(ctxAll(), id)
					states[m.State]++
				}
				return states
			}
			deadline := time.Now().Add(10 * time.Second)
			for countStates()[wxnotify.MessageDelivered] == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if states := countStates(); states[wxnotify.MessageDelivered] != 1 || states[wxnotify.MessageAmbiguous] != 2 {
				t.Fatalf("after recovery: %v, want 1 delivered by the event, 2 ambiguous", states)
			}
			sent("777000002") // a later event settles one more
			var delivered int
			for _, id := range ids {
				m, _, _ := tb.svc.FindMessageByID(ctxAll(), id)
				if m.State == wxnotify.MessageDelivered {
					delivered++
				}
			}
			if delivered != 2 {
				t.Fatalf("after a late event: %d delivered, want 2", delivered)
			}
		})
	}
}

// TestPipeline_OneSendPerUser: a burst to one user never has two sends in
// flight from one instance; with two instances WeChat's 43108 for the
// overlap is retried, and every message is delivered once.
func TestPipeline_OneSendPerUser(t *testing.T) {
	t.Parallel()
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprint(instances), func(t *testing.T) {
			t.Parallel()
			tb := setup(t, testdb.Engines(t)[0])
			tb.sim.SetLatency(5*time.Millisecond, 0)
			for i := range instances {
				tb.pipeline(t, fmt.Sprint("i", i), func(p *delivery.Pipeline) { p.MaxAttempts = 2 })
			}
			const n = 20
			tb.grant(t, user, n)
			var ids []int64
			for range n {
				ids = append(ids, tb.enqueue(t, &wxnotify.Message{}))
			}
			for _, id := range ids {
				m, _ := tb.wait(t, id)
				wantState(t, m, wxnotify.MessageDelivered)
			}
			if got := len(tb.sim.Inbox(appID, user)); got != n {
				t.Fatalf("inbox holds %d, want %d", got, n)
			}
			if overlaps := tb.sim.Overlaps(appID); instances == 1 && overlaps != 0 {
				t.Fatalf("one instance overlapped its own sends %d times", overlaps)
			}
		})
	}
}

// TestPipeline_DailyLimit: deliveries are counted per app and quota day
// with their outcomes; at the limit the app's sends of that kind wait for
// the next quota day, without calling WeChat.
func TestPipeline_DailyLimit(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, engine)
			p, _ := tb.pipeline(t, "a", func(p *delivery.Pipeline) { p.DailySubscribeLimit = 3 })
			tb.grant(t, user, 5)
			for range 3 {
				m, _ := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
				wantState(t, m, wxnotify.MessageDelivered)
			}
			if err := p.CheckDailyLimits(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d := p.DailySends(); len(d) != 1 || d[0].Sent != 3 || d[0].Kind != "subscribe" || d[0].Day != wxnotify.QuotaDay(time.Now()) {
				t.Fatalf("daily sends %+v, want 3 subscribe today", d)
			}
			calls := tb.sim.Calls("/cgi-bin/message/subscribe/send", appID)
			held := tb.enqueue(t, &wxnotify.Message{})
			deadline := time.Now().Add(10 * time.Second)
			for {
				m, _, err := tb.svc.FindMessageByID(ctxAll(), held)
				if err != nil {
					t.Fatal(err)
				}
				if m.State.Terminal() {
					t.Fatalf("message past the daily limit ended %s", m.State)
				}
				if strings.Contains(m.LastError, "daily send limit") {
					if !m.SendAt.After(wxnotify.NextQuotaReset(time.Now()).Add(-time.Minute)) {
						t.Fatalf("held until %v, want the next quota day (%v)", m.SendAt, wxnotify.NextQuotaReset(time.Now()))
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("message past the daily limit: %+v, want it held", m)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if got := tb.sim.Calls("/cgi-bin/message/subscribe/send", appID); got != calls {
				t.Fatalf("WeChat called %d times past the limit", got-calls)
			}
		})
	}
}

// TestPipeline_WokenByOtherInstance: on PostgreSQL an accept made through
// another instance (one that does not wake this pipeline in-process) is
// claimed at once through the store's DueListener — the pipeline's idle
// wait is a minute, longer than the test allows, so only the notification
// can deliver it. Without the listener the fallback wait still does.
func TestPipeline_WokenByOtherInstance(t *testing.T) {
	t.Parallel()
	engines := testdb.Engines(t)
	if len(engines) < 2 {
		t.Skip("needs PostgreSQL (WXNOTIFY_TEST_POSTGRES)")
	}
	tb := setup(t, engines[1])
	var p *delivery.Pipeline
	p, _ = tb.pipeline(t, "b", func(p *delivery.Pipeline) { p.MaxIdleWait = time.Minute })
	tb.svc.Wake = nil // the accepting instance is another process
	st := tb.open(t)
	l, ok := st.(store.DueListener)
	if !ok {
		t.Fatal("the PostgreSQL driver is not a store.DueListener")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	listening := make(chan struct{}, 1)
	go l.ListenDue(ctx, func() {
		p.Wake()
		select {
		case listening <- struct{}{}:
		default:
		}
	}, slog.New(slog.DiscardHandler))
	<-listening
	time.Sleep(50 * time.Millisecond) // let the pipeline reach its idle wait
	tb.grant(t, user, 1)
	m, _ := tb.wait(t, tb.enqueue(t, &wxnotify.Message{}))
	wantState(t, m, wxnotify.MessageDelivered)
}

// TestPipeline_SharedAppRate: three instances on one PostgreSQL database
// send for one app at its rate in all, not three times it: WeChat sees at
// most the rate (plus the bucket's burst) over the run, and no 45011.
func TestPipeline_SharedAppRate(t *testing.T) {
	t.Parallel()
	engines := testdb.Engines(t)
	if len(engines) < 2 {
		t.Skip("needs PostgreSQL (WXNOTIFY_TEST_POSTGRES)")
	}
	tb := setup(t, engines[1])
	const rate, burst, n = 100, 10, 250
	for i := range 3 {
		tb.pipeline(t, fmt.Sprint("i", i), func(p *delivery.Pipeline) { p.AppRate, p.AppBurst = rate, burst })
	}
	var ids []int64
	for i := range n {
		u := fmt.Sprintf("oRATE%013d", i)
		tb.grant(t, u, 1)
		ids = append(ids, tb.enqueue(t, &wxnotify.Message{OpenID: u}))
	}
	for _, id := range ids {
		m, _ := tb.wait(t, id)
		wantState(t, m, wxnotify.MessageDelivered)
	}
	all := tb.sim.AllDelivered(appID)
	if len(all) != n {
		t.Fatalf("delivered %d, want %d", len(all), n)
	}
	first, last := all[0].At, all[0].At
	for _, d := range all {
		if d.At.Before(first) {
			first = d.At
		}
		if d.At.After(last) {
			last = d.At
		}
	}
	// n sends took at least (n - burst) / rate: the bucket's burst, then
	// one per 1/rate; 5% for the clock's grain.
	if span, least := last.Sub(first), time.Duration(float64(n-burst)/rate*0.95*float64(time.Second)); span < least {
		t.Fatalf("%d sends in %v across 3 instances: faster than the app's %d/s (at least %v)", n, span, rate, least)
	}
}
