package client_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
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
	c      *client.Client
	url    string
	tpl    string
	ledger *ledger.Service
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
	msgs := &delivery.Service{Queue: queue.New(st), Store: st, Apps: apps}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	msgs.Start(wctx)
	credits := &ledger.Service{Store: st}

	srv := wxhttp.NewServer()
	srv.Addr = "127.0.0.1:0"
	srv.AppService = apps
	srv.APIKeyService = keys
	srv.TokenService = &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: wechat.New(wechat.Options{BaseURL: simSrv.URL})}}
	srv.MessageService = msgs
	srv.BroadcastService = &delivery.BroadcastService{Store: st, Messages: msgs, Chunk: 100}
	srv.ScheduleService = &delivery.ScheduleService{Store: st}
	srv.WebhookService = &webhook.Service{Store: st, Box: box}
	srv.CreditService = credits
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return &testBundle{c: client.New(srv.URL(), plain), url: srv.URL(), tpl: tpl, ledger: credits}
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
				if w.ID == 0 || len(w.Secret.Reveal()) < wxnotify.MinWebhookSecretLen {
					t.Fatalf("created %+v", w)
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
		})
	}
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
