package token_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store/storetest"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "app-secret-value-0123456789"
	openID = "oUSER000000000001"
)

// testBundle is one simulated WeChat, one database, and a way to start
// token services on it as separate instances would (own connections).
type testBundle struct {
	sim    *wechatsim.Server
	client *wechat.Client
	box    *seal.Box
	open   storetest.OpenFunc
	tpl    string
}

func setup(t *testing.T, engine testdb.Engine, mode wxnotify.TokenMode) *testBundle {
	t.Helper()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appID, Secret: secret})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	tb := &testBundle{
		sim:    sim,
		client: wechat.New(wechat.Options{BaseURL: srv.URL}),
		box:    box,
		open:   engine.NewDB(t),
		tpl:    sim.AddTemplateDirect(appID, "订单发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品"}),
	}
	apps := &token.AppService{Store: tb.open(t), Box: box, Now: sim.Now}
	if err := apps.CreateApp(context.Background(), &wxnotify.App{AppID: appID, Secret: secret, TokenMode: mode}); err != nil {
		t.Fatal(err)
	}
	return tb
}

// instance starts a token service on its own connections.
func (tb *testBundle) instance(t *testing.T, n int, fetcher token.Fetcher) *token.Service {
	if fetcher == nil {
		fetcher = token.WeChatFetcher{Client: tb.client}
	}
	return &token.Service{
		Store:        tb.open(t),
		Box:          tb.box,
		Fetcher:      fetcher,
		Holder:       fmt.Sprintf("instance-%d", n),
		Now:          tb.sim.Now,
		PollInterval: 2 * time.Millisecond,
	}
}

// send sends one subscribe message with tok, granting the credit first.
func (tb *testBundle) send(ctx context.Context, tok wxnotify.Secret) error {
	tb.sim.GrantSubscribe(appID, openID, tb.tpl, 1)
	_, err := tb.client.SendSubscribe(ctx, tok.Reveal(), &wechat.SubscribeMessage{
		ToUser: openID, TemplateID: tb.tpl, Data: wechat.Data{"thing1": "书"},
	})
	return err
}

func fetchPath(mode wxnotify.TokenMode) string {
	if mode == wxnotify.TokenModeLegacy {
		return "/cgi-bin/token"
	}
	return "/cgi-bin/stable_token"
}

// TestService_ThreeInstancesOneDay runs three instances for a simulated day,
// each refreshing on schedule and sending once a minute. WeChat is asked for
// a token once per lifetime in total, and no send meets a rejected token
// except right after a revocation, which one refresh repairs.
func TestService_ThreeInstancesOneDay(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		for _, mode := range []wxnotify.TokenMode{wxnotify.TokenModeStable, wxnotify.TokenModeLegacy} {
			t.Run(engine.Name+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				tb := setup(t, engine, mode)
				var svcs []*token.Service
				for i := range 3 {
					svcs = append(svcs, tb.instance(t, i, nil))
				}
				const revokeAt = 23 * 60 // minutes
				var rejected, fetchesAtRevoke int
				for minute := 0; minute < 24*60; minute++ {
					if minute == revokeAt {
						fetchesAtRevoke = tb.sim.Calls(fetchPath(mode), appID)
						tb.sim.RevokeTokens(appID)
					}
					for i, svc := range svcs {
						if err := svc.RefreshDue(ctx); err != nil {
							t.Fatal(err)
						}
						tok, err := svc.Token(ctx, appID)
						if err != nil {
							t.Fatalf("minute %d instance %d: %v", minute, i, err)
						}
						err = tb.send(ctx, tok.Value)
						if wechat.ClassOf(err) == wechat.ClassToken && minute == revokeAt {
							rejected++
							if tok, err = svc.Invalidate(ctx, appID, tok.Value); err != nil {
								t.Fatal(err)
							}
							err = tb.send(ctx, tok.Value)
						}
						if err != nil {
							t.Fatalf("minute %d instance %d: send: %v", minute, i, err)
						}
					}
					tb.sim.Advance(time.Minute)
				}
				fetches := tb.sim.Calls(fetchPath(mode), appID)
				t.Logf("fetches=%d rejected sends=%d", fetches, rejected)
				if fetches > 13 {
					t.Errorf("fetches=%d in 24h, want at most 13", fetches)
				}
				if rejected == 0 || rejected > len(svcs) {
					t.Errorf("rejected sends after revocation=%d, want 1..%d", rejected, len(svcs))
				}
				if got := tb.sim.Calls(fetchPath(mode), appID) - fetchesAtRevoke; got < 1 {
					t.Errorf("no refresh after revocation")
				}
				st, err := svcs[0].Status(ctx, appID)
				if err != nil {
					t.Fatal(err)
				}
				if !st.HasToken || st.Fetches != int64(fetches) || st.LastError != "" {
					t.Errorf("status=%+v, want a token, fetches=%d, no error", st, fetches)
				}
			})
		}
	}
}

// TestService_InvalidateBurst: 200 concurrent sends meet 40001 with the same
// token, across three instances; exactly one refresh follows.
func TestService_InvalidateBurst(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tb := setup(t, engine, wxnotify.TokenModeStable)
			svcs := []*token.Service{tb.instance(t, 0, nil), tb.instance(t, 1, nil), tb.instance(t, 2, nil)}
			old, err := svcs[0].Token(ctx, appID)
			if err != nil {
				t.Fatal(err)
			}
			tb.sim.RevokeTokens(appID)
			before := tb.sim.Calls("/cgi-bin/stable_token", appID)
			var wg sync.WaitGroup
			var rejected, delivered atomic.Int64
			for i := range 200 {
				// One user per sender: WeChat refuses concurrent sends to one
				// openid (43108), which is not what this test is about.
				user := fmt.Sprintf("oUSER%012d", i)
				tb.sim.GrantSubscribe(appID, user, tb.tpl, 1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					svc := svcs[i%len(svcs)]
					_, err := tb.client.SendSubscribe(ctx, old.Value.Reveal(), &wechat.SubscribeMessage{ToUser: user, TemplateID: tb.tpl, Data: wechat.Data{"thing1": "书"}})
					if wechat.ClassOf(err) != wechat.ClassToken {
						t.Errorf("send with revoked token: err=%v, want a token error", err)
						return
					}
					rejected.Add(1)
					tok, err := svc.Invalidate(ctx, appID, old.Value)
					if err != nil {
						t.Error(err)
						return
					}
					if _, err := tb.client.SendSubscribe(ctx, tok.Value.Reveal(), &wechat.SubscribeMessage{ToUser: user, TemplateID: tb.tpl, Data: wechat.Data{"thing1": "书"}}); err != nil {
						t.Errorf("send with new token: %v", err)
						return
					}
					delivered.Add(1)
				}()
			}
			wg.Wait()
			if got := tb.sim.Calls("/cgi-bin/stable_token", appID) - before; got != 1 {
				t.Fatalf("refreshes after the burst=%d, want exactly 1", got)
			}
			if rejected.Load() != 200 || delivered.Load() != 200 {
				t.Fatalf("rejected=%d delivered=%d, want 200 each", rejected.Load(), delivered.Load())
			}
		})
	}
}

// TestService_RefreshErrors: WeChat failures while refreshing back off and
// keep the old token while it is valid, and show in Status.
func TestService_RefreshErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	engine := testdb.Engines(t)[0]

	t.Run("KeepsValidToken", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, engine, wxnotify.TokenModeStable)
		svc := tb.instance(t, 0, nil)
		first, err := svc.Token(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		// Into the refresh window, with WeChat busy.
		tb.sim.Advance(2*time.Hour - 3*time.Minute)
		tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/stable_token", Count: 1, ErrCode: -1})
		got, err := svc.Token(ctx, appID)
		if err != nil {
			t.Fatalf("token during a WeChat outage: %v", err)
		}
		if got.Value != first.Value {
			t.Fatal("old token not kept")
		}
		if err := tb.send(ctx, got.Value); err != nil {
			t.Fatalf("old token no longer works: %v", err)
		}
		st, err := svc.Status(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(st.LastError, "-1") {
			t.Fatalf("status last error=%q, want WeChat's -1", st.LastError)
		}
		// Backoff over, WeChat healthy: a fresh token, the error cleared.
		tb.sim.Advance(10 * time.Second)
		got, err = svc.Token(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Value == first.Value {
			t.Fatal("token not refreshed after backoff")
		}
		if st, _ := svc.Status(ctx, appID); st.LastError != "" {
			t.Fatalf("error not cleared: %q", st.LastError)
		}
	})
	t.Run("ErrQuotaWithoutToken", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, engine, wxnotify.TokenModeStable)
		svc := tb.instance(t, 0, nil)
		tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/stable_token", Count: 1, ErrCode: 45009})
		_, err := svc.Token(ctx, appID)
		if wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE || !strings.Contains(err.Error(), "45009") {
			t.Fatalf("err=%v, want EUNAVAILABLE naming 45009", err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatal("secret in error")
		}
	})
	t.Run("RejectedNeverHandedOutAgain", func(t *testing.T) {
		// WeChat rejected the token and the refresh fails (45009): callers
		// hear EUNAVAILABLE until a new token is fetched, never the old one.
		t.Parallel()
		tb := setup(t, engine, wxnotify.TokenModeStable)
		svc := tb.instance(t, 0, nil)
		first, err := svc.Token(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		tb.sim.InjectFault(wechatsim.Fault{Path: "/cgi-bin/stable_token", Count: 1, ErrCode: 45009})
		if _, err := svc.Invalidate(ctx, appID, first.Value); wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE {
			t.Fatalf("Invalidate while stable_token answers 45009: %v, want EUNAVAILABLE", err)
		}
		for range 3 {
			if got, err := svc.Token(ctx, appID); err == nil && got.Value == first.Value {
				t.Fatal("the rejected token was handed out again")
			} else if wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE {
				t.Fatalf("Token after the failed refresh: %v, want EUNAVAILABLE", err)
			}
		}
		tb.sim.Advance(time.Minute) // the refresh backoff is over
		got, err := svc.Token(ctx, appID)
		if err != nil || got.Value == first.Value {
			t.Fatalf("Token after the backoff: %v, %v; want a new token", got, err)
		}
	})
	t.Run("ErrUnknownApp", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, engine, wxnotify.TokenModeStable)
		_, err := tb.instance(t, 0, nil).Token(ctx, "wxffffffffffffffff")
		if wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
			t.Fatalf("err=%v, want ENOTFOUND", err)
		}
	})
	t.Run("ErrWrongKey", func(t *testing.T) {
		t.Parallel()
		tb := setup(t, engine, wxnotify.TokenModeStable)
		svc := tb.instance(t, 0, nil)
		other, _ := seal.New(make([]byte, seal.KeySize))
		svc.Box = other
		_, err := svc.Token(ctx, appID)
		if !errors.Is(err, seal.ErrWrongKey) {
			t.Fatalf("err=%v, want ErrWrongKey", err)
		}
	})
}

// fakeFetcher hands back the same token on a normal fetch, as stable_token
// does while a token is valid, and a new one on force_refresh.
type fakeFetcher struct {
	normal, force atomic.Int64
}

func (f *fakeFetcher) FetchToken(_ context.Context, _ string, _ wxnotify.Secret, _ wxnotify.TokenMode, force bool) (string, time.Duration, error) {
	if force {
		return fmt.Sprintf("forced-%d", f.force.Add(1)), 2 * time.Hour, nil
	}
	f.normal.Add(1)
	return "stable-token", 2 * time.Hour, nil
}

// TestService_ForceRefreshOnlyWhenNeeded: force_refresh (20 a day) is spent
// only when a normal fetch returns the rejected token.
func TestService_ForceRefreshOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tb := setup(t, testdb.Engines(t)[0], wxnotify.TokenModeStable)
	f := &fakeFetcher{}
	svc := tb.instance(t, 0, f)
	tok, err := svc.Token(ctx, appID)
	if err != nil {
		t.Fatal(err)
	}
	if f.force.Load() != 0 {
		t.Fatal("force_refresh used for a first fetch")
	}
	next, err := svc.Invalidate(ctx, appID, tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if f.force.Load() != 1 || next.Value.Reveal() != "forced-1" {
		t.Fatalf("force=%d next=%q, want one force refresh", f.force.Load(), next.Value.Reveal())
	}
	// A stale report of the old token changes nothing.
	again, err := svc.Invalidate(ctx, appID, tok.Value)
	if err != nil {
		t.Fatal(err)
	}
	if f.force.Load() != 1 || f.normal.Load() != 2 || again.Value != next.Value {
		t.Fatalf("stale invalidate refetched: force=%d normal=%d", f.force.Load(), f.normal.Load())
	}
}
