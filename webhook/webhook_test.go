package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/webhook"
)

const (
	testApp  = "wx00000000000000b1"
	otherApp = "wx00000000000000b2"
)

// env is one database with two apps, testApp and otherApp, on a fake
// clock.
type env struct {
	st  store.Driver
	box *seal.Box
	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) set(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

func newEnv(t *testing.T, engine testdb.Engine) *env {
	t.Helper()
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	e := &env{st: engine.NewDB(t)(t), box: box, now: time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)}
	apps := &token.AppService{Store: e.st, Box: box}
	for _, id := range []string{testApp, otherApp} {
		if err := apps.CreateApp(context.Background(), &wxnotify.App{AppID: id, Secret: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// keyCtx acts as an API key for the given apps.
func keyCtx(apps ...string) context.Context {
	return wxnotify.NewContextWithAPIKey(context.Background(), &wxnotify.APIKey{ID: "k", Name: "test", Apps: apps})
}

// TestSign checks the signature against the Standard Webhooks
// specification's own test vector and its Go library.
func TestSign(t *testing.T) {
	t.Parallel()
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	)
	at := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	if got, want := webhook.Sign(secret, id, at, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign=%q, want the specification's %q", got, want)
	}
	// A secret that is not whsec_ and base64 (chosen before they had to
	// be) keys the HMAC with its raw bytes: the library's NewWebhookRaw.
	legacy := "given-secret-given-secret"
	raw, err := standardwebhooks.NewWebhookRaw([]byte(legacy))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(wxnotify.WebhookIDHeader, id)
	h.Set(wxnotify.WebhookTimestampHeader, "1614265330")
	h.Set(wxnotify.WebhookSignatureHeader, webhook.Sign(legacy, id, at, body))
	if err := raw.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Fatalf("a legacy secret's signature: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1_767_225_600, 0)
	body := []byte(`{"event":"message.delivered"}`)
	sig := webhook.Sign(secret, "evt_1", now, body)
	for _, tc := range []struct {
		name, secret, id, ts, sigs string
		body                       []byte
		at                         time.Time
		want                       error
	}{
		{"OK", secret, "evt_1", "1767225600", sig, body, now, nil},
		{"OKWithinTolerance", secret, "evt_1", "1767225600", sig, body, now.Add(4 * time.Minute), nil},
		{"OKSecondSignature", secret, "evt_1", "1767225600", "v1,AAAA v2,x " + sig, body, now, nil},
		{"WrongSecret", "whsec_b3RoZXItb3RoZXItb3RoZXItb3RoZXI=", "evt_1", "1767225600", sig, body, now, webhook.ErrSignatureMismatch},
		{"BodyChanged", secret, "evt_1", "1767225600", sig, []byte(`{"event":"message.failed"}`), now, webhook.ErrSignatureMismatch},
		{"IDChanged", secret, "evt_2", "1767225600", sig, body, now, webhook.ErrSignatureMismatch},
		{"Old", secret, "evt_1", "1767225600", sig, body, now.Add(6 * time.Minute), webhook.ErrSignatureExpired},
		{"Future", secret, "evt_1", "1767225600", sig, body, now.Add(-6 * time.Minute), webhook.ErrSignatureExpired},
		{"NoSignature", secret, "evt_1", "1767225600", "", body, now, webhook.ErrSignatureMissing},
		{"NoID", secret, "", "1767225600", sig, body, now, webhook.ErrSignatureMissing},
		{"TimestampTampered", secret, "evt_1", "1767225660", sig, body, now, webhook.ErrSignatureMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.id, tc.ts, tc.sigs, tc.body, tc.at, 5*time.Minute); !errors.Is(err, tc.want) {
				t.Fatalf("err=%v, want %v", err, tc.want)
			}
		})
	}
}

// receiver is an httptest webhook endpoint that verifies every request
// and answers with the statuses given, then 200.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	clock    func() time.Time
	mu       sync.Mutex
	secret   string
	statuses []int
	got      []wxnotify.WebhookEvent
	headers  []http.Header
}

func newReceiver(t *testing.T, clock func() time.Time, statuses ...int) *receiver {
	r := &receiver{t: t, clock: clock, statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		// The specification's library checks the signature (the clock
		// is the test's, so the timestamp is checked against it here).
		wh, err := standardwebhooks.NewWebhook(r.secret)
		if err == nil {
			err = wh.VerifyIgnoringTimestamp(body, req.Header)
		}
		if err == nil {
			err = webhook.Verify(r.secret, req.Header.Get(wxnotify.WebhookIDHeader), req.Header.Get(wxnotify.WebhookTimestampHeader),
				req.Header.Get(wxnotify.WebhookSignatureHeader), body, r.clock(), time.Minute)
		}
		if err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e wxnotify.WebhookEvent
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("receiver: %v", err)
		}
		r.got = append(r.got, e)
		r.headers = append(r.headers, req.Header.Clone())
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) events() []wxnotify.WebhookEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wxnotify.WebhookEvent(nil), r.got...)
}

// webhookEnv is a database with a webhook of testApp pointing at a
// receiver, an outbox and a sender on the env's fake clock.
func webhookEnv(t *testing.T, engine testdb.Engine, statuses ...int) (*env, *receiver, *testOutbox, *webhook.Sender) {
	t.Helper()
	e := newEnv(t, engine)
	rcv := newReceiver(t, e.clock, statuses...)
	svc := &webhook.Service{Store: e.st, Box: e.box, Now: e.clock, AllowPrivateNetworks: true}
	w := &wxnotify.Webhook{AppID: testApp, URL: rcv.srv.URL + "/hook?token=abc"}
	if err := svc.CreateWebhook(keyCtx(testApp), w); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Secret.Reveal(), "whsec_") {
		t.Fatalf("generated secret %q", w.Secret.Reveal())
	}
	rcv.secret = w.Secret.Reveal()
	outbox := &testOutbox{t: t, e: e}
	sender := &webhook.Sender{Store: e.st, Box: e.box, Now: e.clock, Holder: "sender", Timeout: 2 * time.Second, AllowPrivateNetworks: true}
	return e, rcv, outbox, sender
}

// testOutbox writes the outbox rows of an outcome as the queue does in the
// transaction that ends a message (queue.WebhookEvent), for messages the
// test makes up.
type testOutbox struct {
	t *testing.T
	e *env
}

func (o *testOutbox) add(m *store.Message, state wxnotify.MessageState, a *store.Attempt) {
	o.t.Helper()
	ev := queue.WebhookEvent(queue.Ended{Message: m, State: state, Attempt: a}, o.e.clock())
	payload, err := json.Marshal(ev)
	if err != nil {
		o.t.Fatal(err)
	}
	if _, err := o.e.st.WebhookOutboxInsertMany(context.Background(), []*store.WebhookOutboxInsertParams{{
		AppID: m.AppID, MessageID: m.ID, Event: ev.Event, Payload: payload, Now: o.e.clock(),
	}}); err != nil {
		o.t.Fatal(err)
	}
}

func outboxCounts(t *testing.T, e *env) map[string]int64 {
	t.Helper()
	c, err := e.st.WebhookOutboxCounts(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSender(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("SignedRetriedDelivered", func(t *testing.T) {
				t.Parallel()
				e, rcv, outbox, sender := webhookEnv(t, engine, 500)
				// One outcome of a made-up message, one of a real message
				// that the queue expires (writing its event in the same
				// transaction), and one of an app with no webhook.
				q := queue.New(e.st)
				expiresAt := e.clock().Add(time.Hour)
				res, err := q.Insert(context.Background(), []*queue.InsertParams{{MessageInsertParams: store.MessageInsertParams{
					AppID: testApp, OpenID: "oEXP", Kind: "subscribe", TemplateID: "TPL", Data: []byte(`{"thing1":"x"}`),
					ExpiresAt: expiresAt, Now: e.clock(),
				}}})
				if err != nil {
					t.Fatal(err)
				}
				m := &store.Message{ID: res[0].ID}
				e.set(expiresAt.Add(time.Second)) // its TTL passes
				outbox.add(&store.Message{ID: 41, AppID: testApp, OpenID: "o1", MsgID: "MSG-41"},
					wxnotify.MessageDelivered, &store.Attempt{ErrCode: 0, ErrMsg: "ok"})
				if ids, err := q.Expire(context.Background(), e.clock()); err != nil || len(ids) != 1 {
					t.Fatalf("Expire=%v, %v", ids, err)
				}
				outbox.add(&store.Message{ID: 43, AppID: otherApp, OpenID: "o3"},
					wxnotify.MessageFailed, &store.Attempt{ErrCode: 43101, ErrMsg: "user refuse to accept the msg"})
				if c := outboxCounts(t, e); c["pending"] != 2 {
					t.Fatalf("outbox=%v, want 2 pending", c)
				}
				// First attempt: the first event gets a 500, the second a 200.
				if n, err := sender.Tick(context.Background()); err != nil || n != 2 {
					t.Fatalf("Tick=%d, %v", n, err)
				}
				if c := outboxCounts(t, e); c["pending"] != 1 {
					t.Fatalf("after the first attempt: %v, want 1 pending", c)
				}
				if n, _ := sender.Tick(context.Background()); n != 0 {
					t.Fatal("retried before its backoff")
				}
				e.set(e.clock().Add(time.Minute)) // backoff is 30s ±25%
				if n, err := sender.Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("retry Tick=%d, %v", n, err)
				}
				if c := outboxCounts(t, e); len(c) != 0 {
					t.Fatalf("after delivery: %v, want empty", c)
				}
				got := rcv.events()
				if len(got) != 3 {
					t.Fatalf("receiver got %d requests, want 3", len(got))
				}
				byID := map[int64]wxnotify.WebhookEvent{}
				for _, ev := range got {
					byID[ev.MessageID] = ev
				}
				if ev := byID[41]; ev.Event != "message.delivered" || ev.AppID != testApp || ev.OpenID != "o1" || ev.MsgID != "MSG-41" || ev.ErrCode != 0 || ev.At.IsZero() {
					t.Fatalf("delivered event=%+v", ev)
				}
				if ev := byID[m.ID]; ev.Event != "message.expired" || ev.AppID != testApp || ev.OpenID != "oEXP" || ev.State != wxnotify.MessageExpired {
					t.Fatalf("expired event=%+v (written by the queue)", ev)
				}
				rcv.mu.Lock()
				h := rcv.headers[0]
				rcv.mu.Unlock()
				if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("webhook-id"), "evt_") || !strings.HasPrefix(h.Get("X-Wxnotify-Event"), "message.") {
					t.Fatalf("headers=%v", h)
				}
			})
			t.Run("DeadAfterMaxAttempts", func(t *testing.T) {
				t.Parallel()
				e, rcv, outbox, sender := webhookEnv(t, engine, 500, 502, 503)
				sender.MaxAttempts = 3
				outbox.add(&store.Message{ID: 1, AppID: testApp, OpenID: "o"}, "failed", nil)
				for range 3 {
					if n, err := sender.Tick(context.Background()); err != nil || n != 1 {
						t.Fatalf("Tick=%d, %v", n, err)
					}
					e.set(e.clock().Add(time.Hour))
				}
				if n, _ := sender.Tick(context.Background()); n != 0 {
					t.Fatal("a dead event was claimed")
				}
				if c := outboxCounts(t, e); c["dead"] != 1 || c["pending"] != 0 {
					t.Fatalf("outbox=%v, want 1 dead", c)
				}
				if len(rcv.events()) != 3 {
					t.Fatalf("receiver got %d requests, want 3", len(rcv.events()))
				}
			})
			t.Run("NoRedirectToOtherHost", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, engine)
				var hits atomic.Int64
				elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
				t.Cleanup(elsewhere.Close)
				redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, elsewhere.URL+"/stolen", http.StatusTemporaryRedirect)
				}))
				t.Cleanup(redirector.Close)
				svc := &webhook.Service{Store: e.st, Box: e.box, Now: e.clock, AllowPrivateNetworks: true}
				if err := svc.CreateWebhook(keyCtx(testApp), &wxnotify.Webhook{AppID: testApp, URL: redirector.URL}); err != nil {
					t.Fatal(err)
				}
				outbox := &testOutbox{t: t, e: e}
				outbox.add(&store.Message{ID: 1, AppID: testApp, OpenID: "o"}, "delivered", nil)
				sender := &webhook.Sender{Store: e.st, Box: e.box, Now: e.clock, AllowPrivateNetworks: true}
				if n, err := sender.Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("Tick=%d, %v", n, err)
				}
				if hits.Load() != 0 {
					t.Fatalf("the redirect to another host was followed")
				}
				if c := outboxCounts(t, e); c["pending"] != 1 {
					t.Fatalf("outbox=%v, want the event pending a retry", c)
				}
			})
			t.Run("Timeout", func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, engine)
				release := make(chan struct{})
				slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
				t.Cleanup(func() { close(release); slow.Close() })
				svc := &webhook.Service{Store: e.st, Box: e.box, Now: e.clock, AllowPrivateNetworks: true}
				if err := svc.CreateWebhook(keyCtx(testApp), &wxnotify.Webhook{AppID: testApp, URL: slow.URL}); err != nil {
					t.Fatal(err)
				}
				outbox := &testOutbox{t: t, e: e}
				outbox.add(&store.Message{ID: 1, AppID: testApp, OpenID: "o"}, "delivered", nil)
				sender := &webhook.Sender{Store: e.st, Box: e.box, Now: e.clock, Timeout: 50 * time.Millisecond, AllowPrivateNetworks: true}
				if n, err := sender.Tick(context.Background()); err != nil || n != 1 {
					t.Fatalf("Tick=%d, %v", n, err)
				}
				if c := outboxCounts(t, e); c["pending"] != 1 {
					t.Fatalf("outbox=%v, want the event pending a retry", c)
				}
			})
		})
	}
}

func TestService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testdb.Engine{Name: "sqlite", NewDB: testdb.NewSQLiteDB})
	svc := &webhook.Service{Store: e.st, Box: e.box, Now: e.clock}
	ctx := keyCtx(testApp)
	w := &wxnotify.Webhook{AppID: testApp, URL: "https://example.com/h", Secret: "whsec_Z2l2ZW4tc2VjcmV0LWdpdmVuLXNlY3JldC0xMjM0"}
	if err := svc.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	if w.Secret.Reveal() != "whsec_Z2l2ZW4tc2VjcmV0LWdpdmVuLXNlY3JldC0xMjM0" {
		t.Fatal("a given secret was replaced")
	}
	if err := svc.CreateWebhook(keyCtx(otherApp), &wxnotify.Webhook{AppID: testApp, URL: "https://x"}); wxnotify.ErrorCode(err) != wxnotify.EFORBIDDEN {
		t.Fatalf("create for another app: %v, want EFORBIDDEN", err)
	}
	if err := svc.CreateWebhook(keyCtx(wxnotify.AllApps), &wxnotify.Webhook{AppID: "wx00000000000000b9", URL: "https://x"}); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
		t.Fatalf("create for an unknown app: %v, want ENOTFOUND", err)
	}
	if list, err := svc.FindWebhooks(keyCtx(otherApp)); err != nil || len(list) != 0 {
		t.Fatalf("FindWebhooks by another app's key=%v, %v", list, err)
	}
	list, err := svc.FindWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].Secret != "" {
		t.Fatalf("FindWebhooks=%+v, %v", list, err)
	}
	if err := svc.DeleteWebhook(keyCtx(otherApp), w.ID); wxnotify.ErrorCode(err) != wxnotify.ENOTFOUND {
		t.Fatalf("delete by another app's key: %v, want ENOTFOUND", err)
	}
	for range wxnotify.MaxWebhooksPerApp - 1 {
		if err := svc.CreateWebhook(ctx, &wxnotify.Webhook{AppID: testApp, URL: "https://example.com/h"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.CreateWebhook(ctx, &wxnotify.Webhook{AppID: testApp, URL: "https://example.com/h"}); wxnotify.ErrorCode(err) != wxnotify.ECONFLICT {
		t.Fatalf("one webhook too many: %v, want ECONFLICT", err)
	}
	if err := svc.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
}

// TestNewHTTPClientRefusesPrivateAddresses: by default a webhook cannot reach
// loopback (or any internal) address, so an API key cannot turn wxnotify
// against internal services.
func TestNewHTTPClientRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	// Loopback only: this test must never send a packet anywhere else.
	for _, url := range []string{srv.URL, "http://[::1]:9/", "http://localhost:9/"} {
		resp, err := webhook.NewHTTPClient(time.Second).Get(url)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s: allowed", url)
		} else if !strings.Contains(err.Error(), "private") {
			t.Errorf("GET %s: err=%v, want the private-address refusal", url, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("the loopback receiver was reached")
	}
}

// TestService_PrivateAddressRefused: a URL on (or resolving to) an address
// the sender would refuse is refused at creation, 400 naming url, unless
// private networks are allowed; nothing is stored.
func TestService_PrivateAddressRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testdb.Engine{Name: "sqlite", NewDB: testdb.NewSQLiteDB})
	resolve := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		switch host {
		case "internal.example":
			return []netip.Addr{netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("10.0.0.5")}, nil
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("203.0.113.9")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	svc := &webhook.Service{Store: e.st, Box: e.box, Now: e.clock, LookupNetIP: resolve}
	ctx := keyCtx(testApp)
	for _, u := range []string{
		"http://127.0.0.1:8080/h", "https://10.1.2.3/h", "http://169.254.169.254/latest/meta-data/",
		"http://[::1]/h", "http://[fd00::1]/h", "http://0.0.0.0/h", "http://[::ffff:192.168.1.1]/h",
		"https://internal.example/h",
	} {
		err := svc.CreateWebhook(ctx, &wxnotify.Webhook{AppID: testApp, URL: u})
		if wxnotify.ErrorCode(err) != wxnotify.EINVALID || wxnotify.ErrorField(err) != "url" {
			t.Errorf("create %s: %v, want EINVALID naming url", u, err)
		}
	}
	if list, err := svc.FindWebhooks(ctx); err != nil || len(list) != 0 {
		t.Fatalf("refused webhooks stored: %v %v", list, err)
	}
	for _, u := range []string{"https://public.example/h", "https://unknown.example/h", "https://203.0.113.7/h"} {
		if err := svc.CreateWebhook(ctx, &wxnotify.Webhook{AppID: testApp, URL: u}); err != nil {
			t.Errorf("create %s: %v", u, err)
		}
	}
	allow := &webhook.Service{Store: e.st, Box: e.box, Now: e.clock, LookupNetIP: resolve, AllowPrivateNetworks: true}
	if err := allow.CreateWebhook(ctx, &wxnotify.Webhook{AppID: testApp, URL: "http://127.0.0.1:8080/h"}); err != nil {
		t.Fatalf("create a loopback webhook with private networks allowed: %v", err)
	}
}
