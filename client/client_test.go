package client_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/audit"
	"github.com/wxnotify/wxnotify/catalog"
	"github.com/wxnotify/wxnotify/client"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/webhook"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	appA   = "wx0123456789abcdef"
	appB   = "wxfedcba9876543210"
	secret = "client-test-secret"
)

// testBundle is a real wxnotify Server over a real store (no pipeline:
// messages stay queued) and a client of it with a key for app A only.
type testBundle struct {
	c        *client.Client
	op       *client.Client // with an operator's key (every app)
	url      string
	key      string // the API key of c
	tpl      string
	ledger   *ledger.Service
	messages *flakyMessages
}

// flakyMessages is the real MessageService, but the next Fail calls of
// Enqueue answer EUNAVAILABLE (which the server sends as 503 with
// Retry-After), as when the database is down for a moment.
type flakyMessages struct {
	wxnotify.MessageService
	Fail     atomic.Int32
	Enqueues atomic.Int32 // calls of Enqueue, failed ones included
}

func (f *flakyMessages) Enqueue(ctx context.Context, m *wxnotify.Message) (bool, error) {
	f.Enqueues.Add(1)
	for n := f.Fail.Load(); n > 0; n = f.Fail.Load() {
		if f.Fail.CompareAndSwap(n, n-1) {
			return false, wxnotify.Errorf(wxnotify.EUNAVAILABLE, "store unavailable (test)")
		}
	}
	return f.MessageService.Enqueue(ctx, m)
}

func setup(t *testing.T, engine testdb.Engine) *testBundle {
	t.Helper()
	ctx := context.Background()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appA, Secret: secret})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	tpl := sim.AddTemplateDirect(appA, "发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品"})

	st := engine.NewDB(t)(t)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	apps := &token.AppService{Store: st, Box: box}
	for _, id := range []string{appA, appB} {
		if err := apps.CreateApp(ctx, &wxnotify.App{AppID: id, Secret: secret}); err != nil {
			t.Fatal(err)
		}
	}
	keys := &apikey.Service{Store: st}
	plain, err := keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "orders", Apps: []string{appA}})
	if err != nil {
		t.Fatal(err)
	}
	opKey, err := keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "ops", Apps: []string{wxnotify.AllApps}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := &delivery.Service{Queue: queue.New(st), Store: st, Apps: apps}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	msgs.Start(wctx)
	credits := &ledger.Service{Store: st}

	wc := wechat.New(wechat.Options{BaseURL: simSrv.URL})
	tokens := &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: wc}}
	flaky := &flakyMessages{MessageService: msgs}

	srv := wxhttp.NewServer()
	srv.Addr = "127.0.0.1:0"
	srv.AppService = apps
	srv.APIKeyService = keys
	srv.TokenService = tokens
	srv.MessageService = flaky
	srv.TemplateService = &catalog.Service{Store: st, Queue: queue.New(st), Client: wc, Tokens: tokens}
	srv.AuditService = &audit.Service{Store: st}
	srv.BroadcastService = &delivery.BroadcastService{Store: st, Messages: msgs, Chunk: 100}
	srv.ScheduleService = &delivery.ScheduleService{Store: st}
	srv.WebhookService = &webhook.Service{Store: st, Box: box}
	srv.CreditService = credits
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return &testBundle{c: client.New(srv.URL(), plain), op: client.New(srv.URL(), opKey), url: srv.URL(), key: plain, tpl: tpl, ledger: credits, messages: flaky}
}

func wantCode(t *testing.T, err error, code, field string) {
	t.Helper()
	var e *wxnotify.Error
	if !errors.As(err, &e) {
		t.Fatalf("err=%v (%T), want *wxnotify.Error %s", err, err, code)
	}
	if e.Code != code || e.Field != field {
		t.Fatalf("err=%v, want code %s field %q", err, code, field)
	}
}

func TestClient(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			tb := setup(t, engine)
			ctx := context.Background()
			c := tb.c

			t.Run("Messages", func(t *testing.T) {
				p := &client.SendParams{AppID: appA, OpenID: "oUSER1", TemplateID: tb.tpl, Data: map[string]string{"thing1": "书"},
					TTL: time.Hour, IdempotencyKey: "order-1"}
				first, err := c.SendMessage(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				if !first.Created || first.ID == 0 || first.State != wxnotify.MessageQueued {
					t.Fatalf("first send %+v", first)
				}
				again, err := c.SendMessage(ctx, p)
				if err != nil || again.Created || again.ID != first.ID {
					t.Fatalf("replay %+v %v, want the first message", again, err)
				}
				for i := range 4 {
					if _, err := c.SendMessage(ctx, &client.SendParams{AppID: appA, OpenID: fmt.Sprintf("oUSER%d", i+2), TemplateID: tb.tpl,
						Data: map[string]string{"thing1": "x"}, SendAt: time.Now().Add(time.Hour)}); err != nil {
						t.Fatal(err)
					}
				}
				m, attempts, err := c.GetMessage(ctx, first.ID)
				if err != nil {
					t.Fatal(err)
				}
				if m.ID != first.ID || m.OpenID != "oUSER1" || m.Data["thing1"] != "书" || m.IdempotencyKey != "order-1" || len(attempts) != 0 {
					t.Fatalf("message %+v attempts %v", m, attempts)
				}
				page, err := c.ListMessages(ctx, client.ListParams{AppID: appA, Limit: 2})
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Messages) != 2 || page.NextBefore == 0 || page.Messages[0].ID < page.Messages[1].ID {
					t.Fatalf("page %+v", page)
				}
				var all []int64
				for m, err := range c.Messages(ctx, client.ListParams{AppID: appA, Limit: 2}) {
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, m.ID)
				}
				if len(all) != 5 {
					t.Fatalf("iterated %v, want 5 messages", all)
				}
				cancelled, err := c.CancelMessage(ctx, first.ID)
				if err != nil || cancelled.State != wxnotify.MessageCancelled {
					t.Fatalf("cancel: %+v %v", cancelled, err)
				}
				_, err = c.CancelMessage(ctx, first.ID)
				wantCode(t, err, wxnotify.ECONFLICT, "")
				waited, _, err := c.WaitMessage(ctx, first.ID, time.Millisecond)
				if err != nil || waited.State != wxnotify.MessageCancelled {
					t.Fatalf("wait: %+v %v", waited, err)
				}
				_, _, err = c.GetMessage(ctx, 1<<40)
				wantCode(t, err, wxnotify.ENOTFOUND, "")
			})

			t.Run("Errors", func(t *testing.T) {
				_, err := c.SendMessage(ctx, &client.SendParams{AppID: appA, OpenID: "o1", TemplateID: tb.tpl, Data: map[string]string{"thing1": strings.Repeat("长", 21)}})
				wantCode(t, err, wxnotify.EINVALID, "data.thing1")
				_, err = c.SendMessage(ctx, &client.SendParams{AppID: appB, OpenID: "o1", TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}})
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
				_, err = client.New(tb.url, "wxk_nope_nope").ListMessages(ctx, client.ListParams{})
				wantCode(t, err, wxnotify.EUNAUTHORIZED, "")
			})

			t.Run("Broadcast", func(t *testing.T) {
				const n = 2500
				recipients := func(yield func(wxnotify.BroadcastRecipient, error) bool) {
					for i := range n {
						r := wxnotify.BroadcastRecipient{OpenID: fmt.Sprintf("oB%05d", i)}
						if i%2 == 0 {
							r.Data = map[string]string{"thing1": fmt.Sprintf("b%d", i)}
						}
						if !yield(r, nil) {
							return
						}
					}
				}
				res, err := c.CreateBroadcast(ctx, &client.BroadcastParams{AppID: appA, TemplateID: tb.tpl, Data: map[string]string{"thing1": "all"}}, recipients)
				if err != nil {
					t.Fatal(err)
				}
				if res.Accepted != n || res.State != wxnotify.BroadcastAccepted {
					t.Fatalf("broadcast %+v", res)
				}
				b, err := c.GetBroadcast(ctx, res.ID)
				if err != nil || b.Total != n || b.Pending != n || b.Counts[wxnotify.MessageQueued] != n {
					t.Fatalf("get broadcast %+v %v", b, err)
				}
				page, err := c.ListMessages(ctx, client.ListParams{BroadcastID: res.ID, Limit: 2})
				if err != nil || len(page.Messages) != 2 {
					t.Fatalf("list %+v %v", page, err)
				}
				if last := page.Messages[0]; last.OpenID != fmt.Sprintf("oB%05d", n-1) || last.Data["thing1"] != "all" {
					t.Fatalf("newest message of the broadcast %+v", last)
				}
				if m := page.Messages[1]; m.Data["thing1"] != fmt.Sprintf("b%d", n-2) {
					t.Fatalf("override lost: %+v", m)
				}

				// A bad recipient: the server names it, and the aborted broadcast.
				res, err = c.CreateBroadcast(ctx, &client.BroadcastParams{AppID: appA, TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}},
					client.Recipients("o1", "o2", "", "o4"))
				wantCode(t, err, wxnotify.EINVALID, "recipients[2].openid")
				if res == nil || res.ID == 0 || res.State != wxnotify.BroadcastAborted {
					t.Fatalf("aborted broadcast %+v", res)
				}
				// The recipients' own error stops the upload and is returned.
				boom := errors.New("boom")
				_, err = c.CreateBroadcast(ctx, &client.BroadcastParams{AppID: appA, TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}},
					failAfter(3, boom))
				if !errors.Is(err, boom) {
					t.Fatalf("err=%v, want the recipients' error", err)
				}
				_, err = c.CreateBroadcast(ctx, &client.BroadcastParams{AppID: appB, TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}}, client.Recipients("o1"))
				wantCode(t, err, wxnotify.EFORBIDDEN, "")

				// The list: newest first, filtered, paged.
				all, err := c.ListBroadcasts(ctx, client.BroadcastListParams{AppID: appA})
				if err != nil || len(all.Broadcasts) < 2 || all.NextBefore != 0 {
					t.Fatalf("list broadcasts %+v %v", all, err)
				}
				for i, b := range all.Broadcasts[1:] {
					if b.ID >= all.Broadcasts[i].ID {
						t.Fatalf("not newest first: %d after %d", b.ID, all.Broadcasts[i].ID)
					}
				}
				accepted, err := c.ListBroadcasts(ctx, client.BroadcastListParams{State: wxnotify.BroadcastAccepted})
				if err != nil || len(accepted.Broadcasts) != 1 || accepted.Broadcasts[0].ID != b.ID || accepted.Broadcasts[0].Total != n {
					t.Fatalf("accepted broadcasts %+v %v, want the first one with %d messages", accepted, err, n)
				}
				var paged []int64
				for b, err := range c.Broadcasts(ctx, client.BroadcastListParams{AppID: appA, Limit: 1}) {
					if err != nil {
						t.Fatal(err)
					}
					paged = append(paged, b.ID)
				}
				if len(paged) != len(all.Broadcasts) || paged[0] != all.Broadcasts[0].ID {
					t.Fatalf("paged %v, want the %d of the list", paged, len(all.Broadcasts))
				}
				_, err = c.ListBroadcasts(ctx, client.BroadcastListParams{State: "bogus"})
				wantCode(t, err, wxnotify.EINVALID, "state")
				_, err = c.ListBroadcasts(ctx, client.BroadcastListParams{AppID: appB})
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
			})

			t.Run("Schedules", func(t *testing.T) {
				s := &wxnotify.Schedule{AppID: appA, Name: "daily", Cron: "0 9 * * *", Timezone: "Asia/Shanghai",
					Message: wxnotify.ScheduleMessage{OpenIDs: []string{"o1", "o2"}, TemplateID: tb.tpl, Data: map[string]string{"thing1": "早安"}}}
				if err := c.CreateSchedule(ctx, s); err != nil {
					t.Fatal(err)
				}
				if s.ID == 0 || s.State != wxnotify.ScheduleActive || s.NextRunAt.IsZero() {
					t.Fatalf("created %+v", s)
				}
				list, err := c.ListSchedules(ctx)
				if err != nil || len(list) != 1 || list[0].ID != s.ID {
					t.Fatalf("list %+v %v", list, err)
				}
				if p, err := c.PauseSchedule(ctx, s.ID); err != nil || p.State != wxnotify.SchedulePaused {
					t.Fatalf("pause %+v %v", p, err)
				}
				if r, err := c.ResumeSchedule(ctx, s.ID); err != nil || r.State != wxnotify.ScheduleActive {
					t.Fatalf("resume %+v %v", r, err)
				}
				if g, err := c.GetSchedule(ctx, s.ID); err != nil || g.Name != "daily" {
					t.Fatalf("get %+v %v", g, err)
				}
				if err := c.DeleteSchedule(ctx, s.ID); err != nil {
					t.Fatal(err)
				}
				wantCode(t, c.DeleteSchedule(ctx, s.ID), wxnotify.ENOTFOUND, "")
				wantCode(t, c.CreateSchedule(ctx, &wxnotify.Schedule{AppID: appA, Name: "x", Cron: "nope",
					Message: wxnotify.ScheduleMessage{OpenIDs: []string{"o1"}, TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}}}), wxnotify.EINVALID, "cron")
			})

			t.Run("Webhooks", func(t *testing.T) {
				w := &wxnotify.Webhook{AppID: appA, URL: "https://example.com/hook"}
				if err := c.CreateWebhook(ctx, w); err != nil {
					t.Fatal(err)
				}
				if w.ID == 0 || !strings.HasPrefix(w.Secret.Reveal(), "whsec_") || w.Validate() != nil {
					t.Fatalf("created %+v: want an id and a whsec_ secret (Standard Webhooks)", w)
				}
				list, err := c.ListWebhooks(ctx)
				if err != nil || len(list) != 1 || list[0].URL != w.URL || list[0].Secret != "" {
					t.Fatalf("list %+v %v", list, err)
				}
				if err := c.DeleteWebhook(ctx, w.ID); err != nil {
					t.Fatal(err)
				}
				wantCode(t, c.DeleteWebhook(ctx, w.ID), wxnotify.ENOTFOUND, "")
			})

			t.Run("Tokens", func(t *testing.T) {
				tok, err := c.AccessToken(ctx, appA)
				if err != nil {
					t.Fatal(err)
				}
				if tok.Value == "" || time.Until(tok.ExpiresAt) < time.Hour {
					t.Fatalf("token expires %v", tok.ExpiresAt)
				}
				st, err := c.TokenStatus(ctx, appA)
				if err != nil || !st.HasToken || st.Fetches != 1 {
					t.Fatalf("status %+v %v", st, err)
				}
				next, err := c.InvalidateToken(ctx, appA, tok.Value)
				if err != nil || next.Value == "" {
					t.Fatalf("invalidate: %v", err)
				}
				_, err = c.AccessToken(ctx, appB)
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
				if strings.Contains(fmt.Sprint(tok), tok.Value.Reveal()) {
					t.Fatal("the token prints itself")
				}
			})

			t.Run("CreditStats", func(t *testing.T) {
				if err := tb.ledger.RecordSubscribeResult(ctx, appA, "oC1", map[string]wxnotify.SubscribeChoice{tb.tpl: wxnotify.SubscribeAccept}, "api"); err != nil {
					t.Fatal(err)
				}
				if _, err := tb.ledger.AddFormIDs(ctx, appA, "oC1", wxnotify.CreditFormID, []string{"form-1", "form-2"}, "api"); err != nil {
					t.Fatal(err)
				}
				stocks, err := c.CreditStats(ctx, client.StatsParams{AppID: appA, OpenID: "oC1"})
				if err != nil {
					t.Fatal(err)
				}
				got := map[wxnotify.CreditKind]int64{}
				for _, s := range stocks {
					got[s.Kind] += s.Uses
				}
				if got[wxnotify.CreditSubscribe] != 1 || got[wxnotify.CreditFormID] != 2 {
					t.Fatalf("stocks %v", got)
				}
				expiring, err := c.CreditStats(ctx, client.StatsParams{AppID: appA, ExpiringWithin: time.Minute})
				if err != nil || len(expiring) != 0 {
					t.Fatalf("expiring within a minute: %+v %v", expiring, err)
				}
				_, err = c.CreditStats(ctx, client.StatsParams{AppID: appB})
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
			})

			t.Run("AddCredits", func(t *testing.T) {
				n, err := c.AddCredits(ctx, appA, "oC2", wxnotify.CreditPrepayID, "prepay-1", "prepay-1", "prepay-2")
				if err != nil || n != 2 {
					t.Fatalf("AddCredits=%d, %v; want 2 (the repeat dropped)", n, err)
				}
				stocks, err := c.CreditStats(ctx, client.StatsParams{AppID: appA, OpenID: "oC2"})
				if err != nil || len(stocks) != 1 || stocks[0].Kind != wxnotify.CreditPrepayID || stocks[0].Uses != 2*wxnotify.PrepayIDUses {
					t.Fatalf("stocks after two prepay_ids: %+v, %v", stocks, err)
				}
				_, err = c.AddCredits(ctx, appB, "oC2", wxnotify.CreditPrepayID, "prepay-3")
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
				_, err = c.AddCredits(ctx, appA, "oC2", wxnotify.CreditSubscribe, "x")
				wantCode(t, err, wxnotify.EINVALID, "kind")
			})

			t.Run("Templates", func(t *testing.T) {
				added, removed, err := c.SyncTemplates(ctx, appA)
				if err != nil || added != 1 || removed != 0 {
					t.Fatalf("sync: added %d removed %d, %v; want 1, 0", added, removed, err)
				}
				list, err := c.ListTemplates(ctx, appA)
				if err != nil || len(list) != 1 || list[0].TemplateID != tb.tpl || list[0].Title != "发货通知" {
					t.Fatalf("list %+v %v", list, err)
				}
				a, err := c.SetTemplateAlias(ctx, appA, "order_shipped", tb.tpl)
				if err != nil || a.Alias != "order_shipped" || a.TemplateID != tb.tpl || a.AppID != appA {
					t.Fatalf("alias %+v %v", a, err)
				}
				_, err = c.SetTemplateAlias(ctx, appA, "Bad Alias/x", tb.tpl) // escaped into one path segment
				wantCode(t, err, wxnotify.EINVALID, "alias")
				got, err := c.GetTemplate(ctx, appA, "order_shipped")
				if err != nil || got.TemplateID != tb.tpl || !slicesContain(got.Aliases, "order_shipped") {
					t.Fatalf("get by alias %+v %v", got, err)
				}
				tr, err := c.SetTemplateTruncation(ctx, appA, "order_shipped", "thing1")
				if err != nil || len(tr.TruncateThing) != 1 || tr.TruncateThing[0] != "thing1" {
					t.Fatalf("truncate %+v %v", tr, err)
				}
				if tr, err = c.SetTemplateTruncation(ctx, appA, tb.tpl); err != nil || len(tr.TruncateThing) != 0 {
					t.Fatalf("truncation off %+v %v", tr, err)
				}
				_, err = c.SetTemplateTruncation(ctx, appA, tb.tpl, "time9")
				wantCode(t, err, wxnotify.EINVALID, "keys[0]")
				if err := c.DeleteTemplateAlias(ctx, appA, "order_shipped"); err != nil {
					t.Fatal(err)
				}
				wantCode(t, c.DeleteTemplateAlias(ctx, appA, "order_shipped"), wxnotify.ENOTFOUND, "alias")

				cats, err := c.ListLibraryCategories(ctx, appA)
				if err != nil || len(cats) == 0 {
					t.Fatalf("categories %+v %v", cats, err)
				}
				page, err := c.ListLibraryTitles(ctx, appA, wxnotify.LibraryFilter{CategoryIDs: []int{307}})
				if err != nil || page.Total != 3 || page.Titles[0].ID != "1001" {
					t.Fatalf("library %+v %v", page, err)
				}
				if page, err = c.ListLibraryTitles(ctx, appA, wxnotify.LibraryFilter{Kind: wxnotify.MessageTemplate, Limit: 2}); err != nil || page.Total != 4 || len(page.Titles) != 2 {
					t.Fatalf("legacy library %+v %v", page, err)
				}
				kws, err := c.ListLibraryKeywords(ctx, appA, "", "1001")
				if err != nil || len(kws) != 5 {
					t.Fatalf("keywords %+v %v", kws, err)
				}
				tpl, err := c.AddTemplate(ctx, appA, &wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{2, 4}, SceneDesc: "发货时"})
				if err != nil || tpl.Title != "订单发货通知" || len(tpl.Keywords) != 2 || tpl.TemplateID == "" {
					t.Fatalf("add %+v %v", tpl, err)
				}
				_, err = c.AddTemplate(ctx, appA, &wxnotify.TemplateAdd{TitleID: "1001", KeywordIDs: []int{2}})
				if wxnotify.ErrorCode(err) != wxnotify.EINVALID {
					t.Fatalf("add with one keyword: %v, want invalid", err)
				}
				data := map[string]string{}
				for _, k := range tpl.Keywords {
					data[k.Key] = "1"
				}
				queued, err := c.SendMessage(ctx, &client.SendParams{AppID: appA, OpenID: "oT1", TemplateID: tpl.TemplateID, Data: data})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.DeleteTemplate(ctx, appA, tpl.TemplateID); err != nil {
					t.Fatal(err)
				}
				if got, err := c.GetTemplate(ctx, appA, tpl.TemplateID); err != nil || !got.Deleted {
					t.Fatalf("after delete %+v %v", got, err)
				}

				// The deletion failed the template's queued message; an
				// operator may send it again (it would fail again here).
				if m, _, err := c.GetMessage(ctx, queued.ID); err != nil || m.State != wxnotify.MessageFailed {
					t.Fatalf("message of the deleted template: %+v %v, want failed", m, err)
				}
				retried, err := c.RetryMessage(ctx, queued.ID)
				if err != nil || retried.ID != queued.ID || retried.State != wxnotify.MessageQueued {
					t.Fatalf("retry: %+v %v", retried, err)
				}
				_, err = c.RetryMessage(ctx, queued.ID)
				wantCode(t, err, wxnotify.ECONFLICT, "")
				_, err = c.RetryMessage(ctx, 1<<40)
				wantCode(t, err, wxnotify.ENOTFOUND, "")
				wantCode(t, c.DeleteTemplate(ctx, appA, "NOPE"), wxnotify.ENOTFOUND, "template_id")
				_, err = c.ListTemplates(ctx, appB)
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
			})

			t.Run("Retry", func(t *testing.T) {
				var mu sync.Mutex
				var waits []time.Duration
				var statuses []string // of every answer, with its Retry-After
				rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
					resp, err := http.DefaultTransport.RoundTrip(r)
					if err == nil {
						mu.Lock()
						statuses = append(statuses, fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Retry-After")))
						mu.Unlock()
					}
					return resp, err
				})
				rc := client.New(tb.url, tb.key, client.WithHTTPClient(&http.Client{Transport: rt}), client.WithRetry(client.RetryPolicy{
					MaxAttempts: 3, MaxWait: time.Minute,
					SleepFunc: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
				}))
				reset := func(fail int32) int32 {
					waits, statuses = nil, nil
					tb.messages.Fail.Store(fail)
					return tb.messages.Enqueues.Load()
				}
				p := &client.SendParams{AppID: appA, OpenID: "oR1", TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}, IdempotencyKey: "retry-1"}

				// With an Idempotency-Key: 503 with Retry-After, a wait of that long, then 202.
				before := reset(1)
				res, err := rc.SendMessage(ctx, p)
				if err != nil || !res.Created {
					t.Fatalf("send: %+v %v", res, err)
				}
				wantRetry := fmt.Sprint(int(wxhttp.RetryAfterUnavailable / time.Second))
				if got, want := strings.Join(statuses, ","), "503 "+wantRetry+",202 "; got != want {
					t.Fatalf("answers %q, want %q", got, want)
				}
				if len(waits) != 1 || waits[0] != wxhttp.RetryAfterUnavailable {
					t.Fatalf("waits %v, want one of the Retry-After", waits)
				}
				if got := tb.messages.Enqueues.Load() - before; got != 2 {
					t.Fatalf("Enqueue called %d times, want 2", got)
				}
				if again, err := rc.SendMessage(ctx, p); err != nil || again.Created || again.ID != res.ID {
					t.Fatalf("replay %+v %v, want the first message", again, err)
				}

				// Without one the call is not idempotent: sent once, the 503 returned.
				before = reset(1)
				_, err = rc.SendMessage(ctx, &client.SendParams{AppID: appA, OpenID: "oR2", TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}})
				wantCode(t, err, wxnotify.EUNAVAILABLE, "")
				if got := tb.messages.Enqueues.Load() - before; got != 1 || len(waits) != 0 {
					t.Fatalf("a POST without an Idempotency-Key sent %d times after waits %v, want once", got, waits)
				}

				// Still unavailable after MaxAttempts: the last answer's error.
				before = reset(5)
				_, err = rc.SendMessage(ctx, &client.SendParams{AppID: appA, OpenID: "oR3", TemplateID: tb.tpl, Data: map[string]string{"thing1": "x"}, IdempotencyKey: "retry-3"})
				wantCode(t, err, wxnotify.EUNAVAILABLE, "")
				if got := tb.messages.Enqueues.Load() - before; got != 3 || len(waits) != 2 {
					t.Fatalf("sent %d times after waits %v, want 3 sends and 2 waits", got, waits)
				}
				reset(0)
			})

			t.Run("RefreshTokenAndAudit", func(t *testing.T) {
				before, err := c.TokenStatus(ctx, appA)
				if err != nil {
					t.Fatal(err)
				}
				st, err := c.RefreshToken(ctx, appA)
				if err != nil || st.Fetches != before.Fetches+1 || !st.HasToken {
					t.Fatalf("refresh: %+v %v, want fetch %d", st, err, before.Fetches+1)
				}
				_, err = c.RefreshToken(ctx, appB)
				wantCode(t, err, wxnotify.EFORBIDDEN, "")

				// Every action above is in the audit log, newest first.
				log, err := tb.op.ListAudit(ctx, client.AuditParams{AppID: appA})
				if err != nil {
					t.Fatal(err)
				}
				var actions []string
				for _, e := range log.Entries {
					actions = append(actions, e.Action)
					if !strings.HasPrefix(e.Actor, "apikey:") || e.At.IsZero() {
						t.Fatalf("entry %+v", e)
					}
				}
				for _, a := range []string{wxnotify.AuditTokenRefresh, wxnotify.AuditMessageRetry, wxnotify.AuditTemplateSync, wxnotify.AuditMessageCancel,
					wxnotify.AuditSchedulePause, wxnotify.AuditScheduleResume, wxnotify.AuditScheduleDelete} {
					if !slicesContain(actions, a) {
						t.Fatalf("audit log %v has no %s", actions, a)
					}
				}
				if actions[0] != wxnotify.AuditTokenRefresh {
					t.Fatalf("audit log %v: the refresh is not the newest", actions)
				}
				one, err := tb.op.ListAudit(ctx, client.AuditParams{Action: wxnotify.AuditMessageRetry, Limit: 1})
				if err != nil || len(one.Entries) != 1 || one.Entries[0].Action != wxnotify.AuditMessageRetry || one.Entries[0].Detail != "failed → queued" {
					t.Fatalf("retries %+v %v", one, err)
				}
				_, err = tb.op.ListAudit(ctx, client.AuditParams{Action: "bogus"})
				wantCode(t, err, wxnotify.EINVALID, "action")
				_, err = c.ListAudit(ctx, client.AuditParams{})
				wantCode(t, err, wxnotify.EFORBIDDEN, "")
			})
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// failAfter yields n recipients, then err.
func failAfter(n int, err error) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for i := range n {
			if !yield(wxnotify.BroadcastRecipient{OpenID: fmt.Sprintf("o%d", i)}, nil) {
				return
			}
		}
		yield(wxnotify.BroadcastRecipient{}, err)
	}
}

// TestClient_ErrorBodies: answers that are not wxnotify's JSON still carry
// a code, from the status.
func TestClient_ErrorBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
	}{
		{"JSON", 409, `{"error":{"code":"conflict","message":"already","field":"x"}}`, wxnotify.ECONFLICT},
		{"ProxyHTML", 502, `<html>bad gateway</html>`, wxnotify.EINTERNAL},
		{"PlainUnavailable", 503, `upstream down`, wxnotify.EUNAVAILABLE},
		{"Empty404", 404, ``, wxnotify.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if got := r.Header.Get("Authorization"); got != "Bearer wxk_a_b" {
					t.Errorf("Authorization=%q", got)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			_, err := client.New(srv.URL, "wxk_a_b").GetBroadcast(context.Background(), 1)
			if got := wxnotify.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
			if strings.Contains(err.Error(), "wxk_a_b") {
				t.Fatal("the API key is in the error")
			}
		})
	}
	t.Run("Unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := client.New(url, "k").ListMessages(context.Background(), client.ListParams{})
		if wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE {
			t.Fatalf("err=%v, want unavailable", err)
		}
	})
}

func TestCSVRecipients(t *testing.T) {
	t.Parallel()
	read := func(t *testing.T, csv string) ([]wxnotify.BroadcastRecipient, error) {
		t.Helper()
		var out []wxnotify.BroadcastRecipient
		for r, err := range client.CSVRecipients(strings.NewReader(csv)) {
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		rs, err := read(t, "\ufeffthing1, openid ,time2\n书,o1,\n,o2,10:00\n")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 || rs[0].OpenID != "o1" || rs[0].Data["thing1"] != "书" || len(rs[0].Data) != 1 ||
			rs[1].OpenID != "o2" || rs[1].Data["time2"] != "10:00" || len(rs[1].Data) != 1 {
			t.Fatalf("%+v", rs)
		}
	})
	t.Run("OpenIDOnly", func(t *testing.T) {
		t.Parallel()
		rs, err := read(t, "openid\no1\no2\n")
		if err != nil || len(rs) != 2 || rs[1].Data != nil {
			t.Fatalf("%+v %v", rs, err)
		}
	})
	for name, csv := range map[string]string{
		"ErrNoOpenIDColumn": "user,thing1\no1,x\n",
		"ErrEmpty":          "",
		"ErrRagged":         "openid,thing1\no1,x\no2\n",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := read(t, csv); wxnotify.ErrorCode(err) != wxnotify.EINVALID {
				t.Fatalf("err=%v, want invalid", err)
			}
		})
	}
}
