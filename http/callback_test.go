package http_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/mock"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	cbToken  = "cbToken123"
	cbAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// cbBundle is a Server whose app A has a push configuration, with a
// simulator that renders pushes for app A on the same clock.
type cbBundle struct {
	srv *wxhttp.Server
	sim *wechatsim.Server
	log *syncBuffer

	mu        sync.Mutex
	now       time.Time
	events    [][]*wxnotify.Event
	handleErr error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (b *cbBundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *cbBundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

func (b *cbBundle) stored() [][]*wxnotify.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.events
}

// setupCallback configures app A in mode; the simulator pushes as app
// simApp (normally app A) in safe mode or not, in JSON or XML.
func setupCallback(t *testing.T, mode wxnotify.CallbackMode, safe, jsonPush bool) *cbBundle {
	t.Helper()
	b := &cbBundle{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), log: &syncBuffer{}}
	b.sim = wechatsim.New(wechatsim.Options{Now: b.clock})
	for _, id := range []string{appA, appB} {
		b.sim.AddApp(wechatsim.App{AppID: id, Secret: "s", CallbackToken: cbToken, EncodingAESKey: cbAESKey, SafeMode: safe, JSONCallbacks: jsonPush})
	}
	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.Now = b.clock
	s.Logger = slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.CallbackConfigs = &mock.CallbackConfigService{CallbackConfigFunc: func(_ context.Context, appID string) (*wxnotify.CallbackConfig, error) {
		if appID != appA {
			return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "no push configuration")
		}
		c := &wxnotify.CallbackConfig{AppID: appA, Token: cbToken, Mode: mode}
		if mode != wxnotify.CallbackPlain {
			c.EncodingAESKey = cbAESKey
		}
		return c, nil
	}}
	s.EventService = &mock.EventService{HandleEventsFunc: func(_ context.Context, evs []*wxnotify.Event) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.handleErr != nil {
			return b.handleErr
		}
		b.events = append(b.events, evs)
		return nil
	}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	b.srv = s
	return b
}

func (b *cbBundle) render(t *testing.T, appID string, ev wechatsim.Event) wechatsim.Callback {
	t.Helper()
	cb, err := b.sim.RenderEvent(appID, ev)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// post sends a rendered push to app A's callback URL.
func (b *cbBundle) post(t *testing.T, cb wechatsim.Callback) (int, string) {
	t.Helper()
	return b.postTo(t, appA, cb.Query, cb.ContentType, cb.Body)
}

func (b *cbBundle) postTo(t *testing.T, appID string, q url.Values, ct string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", b.srv.URL()+"/wechat/callback/"+appID+"?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}

var popupTwo = wechatsim.Event{Type: wechatsim.EventPopup, OpenID: "oUSER-popup", List: []wechatsim.EventItem{
	{TemplateID: "TPL1", SubscribeStatusString: "accept"},
	{TemplateID: "TPL2", SubscribeStatusString: "reject"},
}}

func TestCallbackEvents(t *testing.T) {
	t.Parallel()
	for _, safe := range []bool{false, true} {
		for _, jsonPush := range []bool{false, true} {
			name := fmt.Sprintf("safe=%v/json=%v", safe, jsonPush)
			mode := wxnotify.CallbackPlain
			if safe {
				mode = wxnotify.CallbackSafe
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := setupCallback(t, mode, safe, jsonPush)
				created := b.clock().Add(-time.Second)

				// Popup with two entries (JSON: List is an array).
				ev := popupTwo
				ev.CreateTime = created
				if code, body := b.post(t, b.render(t, appA, ev)); code != 200 || body != "success" {
					t.Fatalf("popup: %d %q", code, body)
				}
				// Sent event with one entry (JSON: List is an object).
				sent := wechatsim.Event{Type: wechatsim.EventSent, OpenID: "oUSER-sent", CreateTime: created, List: []wechatsim.EventItem{
					{TemplateID: "TPL1", MsgID: "2794188253209100289", ErrorCode: 0},
				}}
				if code, body := b.post(t, b.render(t, appA, sent)); code != 200 || body != "success" {
					t.Fatalf("sent: %d %q", code, body)
				}
				change := wechatsim.Event{Type: wechatsim.EventChange, OpenID: "oUSER-change", List: []wechatsim.EventItem{
					{TemplateID: "TPL2", SubscribeStatusString: "reject"},
				}}
				if code, body := b.post(t, b.render(t, appA, change)); code != 200 || body != "success" {
					t.Fatalf("change: %d %q", code, body)
				}

				got := b.stored()
				if len(got) != 3 || len(got[0]) != 2 || len(got[1]) != 1 || len(got[2]) != 1 {
					t.Fatalf("stored %v", got)
				}
				want := []wxnotify.Event{
					{AppID: appA, Type: wxnotify.EventSubscribePopup, OpenID: "oUSER-popup", TemplateID: "TPL1", CreateTime: created, Status: "accept", PopupScene: "0"},
					{AppID: appA, Type: wxnotify.EventSubscribePopup, OpenID: "oUSER-popup", TemplateID: "TPL2", CreateTime: created, Status: "reject", PopupScene: "0"},
					{AppID: appA, Type: wxnotify.EventSubscribeSent, OpenID: "oUSER-sent", TemplateID: "TPL1", CreateTime: created, Status: "success", MsgID: "2794188253209100289"},
					{AppID: appA, Type: wxnotify.EventSubscribeChange, OpenID: "oUSER-change", TemplateID: "TPL2", CreateTime: b.clock(), Status: "reject"},
				}
				flat := append(append(got[0], got[1]...), got[2]...)
				for i, w := range want {
					g := *flat[i]
					if !g.CreateTime.Equal(w.CreateTime) {
						t.Errorf("event %d CreateTime=%v, want %v", i, g.CreateTime, w.CreateTime)
					}
					g.CreateTime, w.CreateTime = time.Time{}, time.Time{}
					if g != w {
						t.Errorf("event %d=%+v, want %+v", i, g, w)
					}
				}
			})
		}
	}
}

func TestCallbackRefused(t *testing.T) {
	t.Parallel()
	type tc struct {
		name     string
		mode     wxnotify.CallbackMode
		safe     bool
		jsonPush bool
		// tamper changes the rendered push; it returns the appid to post to.
		tamper func(t *testing.T, b *cbBundle, cb *wechatsim.Callback) string
		status int
	}
	cases := []tc{
		{name: "PlainBadSignature", mode: wxnotify.CallbackPlain, status: 401, tamper: func(_ *testing.T, _ *cbBundle, cb *wechatsim.Callback) string {
			cb.Query.Set("signature", strings.Repeat("0", 40))
			return appA
		}},
		{name: "PlainNoSignature", mode: wxnotify.CallbackPlain, status: 401, tamper: func(_ *testing.T, _ *cbBundle, cb *wechatsim.Callback) string {
			cb.Query.Del("signature")
			return appA
		}},
		{name: "PlainOtherNonce", mode: wxnotify.CallbackPlain, status: 401, tamper: func(_ *testing.T, _ *cbBundle, cb *wechatsim.Callback) string {
			cb.Query.Set("nonce", cb.Query.Get("nonce")+"1")
			return appA
		}},
		{name: "SafeBadMsgSignature", mode: wxnotify.CallbackSafe, safe: true, jsonPush: true, status: 401, tamper: func(_ *testing.T, _ *cbBundle, cb *wechatsim.Callback) string {
			cb.Query.Set("msg_signature", strings.Repeat("a", 40))
			return appA
		}},
		{name: "SafeTamperedCiphertext", mode: wxnotify.CallbackSafe, safe: true, status: 401, tamper: func(_ *testing.T, _ *cbBundle, cb *wechatsim.Callback) string {
			cb.Body = bytes.Replace(cb.Body, []byte("<Encrypt><![CDATA["), []byte("<Encrypt><![CDATA[AAAA"), 1)
			return appA
		}},
		{name: "StaleTimestamp", mode: wxnotify.CallbackPlain, status: 401, tamper: func(_ *testing.T, b *cbBundle, _ *wechatsim.Callback) string {
			b.advance(5*time.Minute + time.Second)
			return appA
		}},
		{name: "FutureTimestamp", mode: wxnotify.CallbackSafe, safe: true, status: 401, tamper: func(_ *testing.T, b *cbBundle, _ *wechatsim.Callback) string {
			b.advance(-5*time.Minute - time.Second)
			return appA
		}},
		{name: "PlainPushToSafeApp", mode: wxnotify.CallbackSafe, status: 401, tamper: func(*testing.T, *cbBundle, *wechatsim.Callback) string { return appA }},
		{name: "EncryptedPushToPlainApp", mode: wxnotify.CallbackPlain, safe: true, status: 401, tamper: func(*testing.T, *cbBundle, *wechatsim.Callback) string { return appA }},
		{name: "EncryptedForOtherApp", mode: wxnotify.CallbackSafe, safe: true, status: 403, tamper: func(t *testing.T, b *cbBundle, cb *wechatsim.Callback) string {
			*cb = b.render(t, appB, popupTwo) // signed with the same Token and key, but for app B
			return appA
		}},
		{name: "UnknownApp", mode: wxnotify.CallbackPlain, status: 404, tamper: func(*testing.T, *cbBundle, *wechatsim.Callback) string { return appB }},
		{name: "BadEncryptType", mode: wxnotify.CallbackCompat, status: 400, tamper: func(_ *testing.T, _ *cbBundle, cb *wechatsim.Callback) string {
			cb.Query.Set("encrypt_type", "des")
			return appA
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t, c.mode, c.safe, c.jsonPush)
			cb := b.render(t, appA, popupTwo)
			to := c.tamper(t, b, &cb)
			code, body := b.postTo(t, to, cb.Query, cb.ContentType, cb.Body)
			if code != c.status {
				t.Fatalf("status=%d, want %d; body=%s", code, c.status, body)
			}
			if n := len(b.stored()); n != 0 {
				t.Fatalf("%d event batches stored from a refused push", n)
			}
			if logs := b.log.String(); strings.Contains(logs, "oUSER-popup") || strings.Contains(logs, "TPL1") || strings.Contains(logs, cbToken) {
				t.Fatalf("logs show the body or Token: %s", logs)
			}
		})
	}
}

func TestCallbackGarbage(t *testing.T) {
	t.Parallel()
	sign := func(q url.Values, parts ...string) url.Values {
		q.Set("signature", wechatsim.Signature(cbToken, q.Get("timestamp"), q.Get("nonce")))
		if len(parts) > 0 {
			q.Set("encrypt_type", "aes")
			q.Set("msg_signature", wechatsim.Signature(append([]string{cbToken, q.Get("timestamp"), q.Get("nonce")}, parts...)...))
		}
		return q
	}
	for _, tc := range []struct {
		name, ct, body, encrypt string
		mode                    wxnotify.CallbackMode
		status                  int
	}{
		{name: "PlainNotXML", ct: "text/xml", body: "hello, world", mode: wxnotify.CallbackPlain, status: 400},
		{name: "PlainBrokenJSON", ct: "application/json", body: `{"ToUserName":"gh_1","List":`, mode: wxnotify.CallbackPlain, status: 400},
		{name: "PlainEmpty", ct: "text/xml", body: "", mode: wxnotify.CallbackPlain, status: 400},
		{name: "PlainEventNoUser", ct: "application/json", mode: wxnotify.CallbackPlain, status: 400,
			body: `{"MsgType":"event","Event":"subscribe_msg_popup_event","List":{"TemplateId":"T","SubscribeStatusString":"accept"}}`},
		{name: "PlainEventNoTemplate", ct: "application/json", mode: wxnotify.CallbackPlain, status: 400,
			body: `{"FromUserName":"o1","MsgType":"event","Event":"subscribe_msg_popup_event","List":[{"SubscribeStatusString":"accept"}]}`},
		{name: "SafeNotBase64", ct: "text/xml", encrypt: "!!!not base64!!!", mode: wxnotify.CallbackSafe, status: 400},
		{name: "SafeWrongLength", ct: "application/json", encrypt: "QUJD", mode: wxnotify.CallbackSafe, status: 400},
		{name: "SafeNoEncrypt", ct: "text/xml", body: "<xml><ToUserName>gh_1</ToUserName></xml>", mode: wxnotify.CallbackSafe, status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupCallback(t, tc.mode, false, false)
			q := url.Values{"timestamp": {fmt.Sprint(b.clock().Unix())}, "nonce": {"12345"}}
			body := tc.body
			if tc.encrypt != "" {
				sign(q, tc.encrypt)
				if strings.Contains(tc.ct, "json") {
					body = `{"ToUserName":"gh_1","Encrypt":"` + tc.encrypt + `"}`
				} else {
					body = "<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[" + tc.encrypt + "]]></Encrypt></xml>"
				}
			} else if tc.mode == wxnotify.CallbackSafe {
				sign(q, "")
			} else {
				sign(q)
			}
			code, resp := b.postTo(t, appA, q, tc.ct, []byte(body))
			if code != tc.status {
				t.Fatalf("status=%d, want %d; body=%s", code, tc.status, resp)
			}
			if len(b.stored()) != 0 {
				t.Fatal("events stored from garbage")
			}
		})
	}
	t.Run("OtherPushIgnored", func(t *testing.T) {
		t.Parallel()
		b := setupCallback(t, wxnotify.CallbackPlain, false, false)
		q := sign(url.Values{"timestamp": {fmt.Sprint(b.clock().Unix())}, "nonce": {"777"}})
		code, resp := b.postTo(t, appA, q, "text/xml",
			[]byte("<xml><ToUserName>gh_1</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content></xml>"))
		if code != 200 || resp != "success" {
			t.Fatalf("status=%d body=%s", code, resp)
		}
		if len(b.stored()) != 0 {
			t.Fatal("a text message became events")
		}
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		t.Parallel()
		b := setupCallback(t, wxnotify.CallbackPlain, false, false)
		q := sign(url.Values{"timestamp": {fmt.Sprint(b.clock().Unix())}, "nonce": {"778"}})
		code, _ := b.postTo(t, appA, q, "text/xml", bytes.Repeat([]byte("x"), 65<<10))
		if code != 400 {
			t.Fatalf("status=%d, want 400", code)
		}
	})
}

func TestCallbackReplay(t *testing.T) {
	t.Parallel()
	for _, safe := range []bool{false, true} {
		t.Run(fmt.Sprintf("safe=%v", safe), func(t *testing.T) {
			t.Parallel()
			mode := wxnotify.CallbackCompat
			b := setupCallback(t, mode, safe, true)
			cb := b.render(t, appA, popupTwo)
			if code, body := b.post(t, cb); code != 200 {
				t.Fatalf("first: %d %s", code, body)
			}
			b.advance(4 * time.Minute) // timestamp still within the skew
			if code, body := b.post(t, cb); code != 409 {
				t.Fatalf("replay: status=%d, want 409; body=%s", code, body)
			}
			if n := len(b.stored()); n != 1 {
				t.Fatalf("stored %d batches, want 1", n)
			}
		})
	}
	t.Run("RetryAfterFailure", func(t *testing.T) {
		t.Parallel()
		b := setupCallback(t, wxnotify.CallbackPlain, false, false)
		b.mu.Lock()
		b.handleErr = errors.New("database down")
		b.mu.Unlock()
		cb := b.render(t, appA, popupTwo)
		if code, _ := b.post(t, cb); code != 500 {
			t.Fatalf("status=%d, want 500", code)
		}
		b.mu.Lock()
		b.handleErr = nil
		b.mu.Unlock()
		// WeChat retries the same push; it is not a replay, since it was
		// never handled.
		if code, body := b.post(t, cb); code != 200 || body != "success" {
			t.Fatalf("retry: %d %s", code, body)
		}
		if n := len(b.stored()); n != 1 {
			t.Fatalf("stored %d batches, want 1", n)
		}
	})
}

func TestCallbackVerifyURL(t *testing.T) {
	t.Parallel()
	b := setupCallback(t, wxnotify.CallbackSafe, true, false)
	get := func(q url.Values) (int, string) {
		resp, err := http.Get(b.srv.URL() + "/wechat/callback/" + appA + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	ts := fmt.Sprint(b.clock().Unix())
	q := url.Values{"timestamp": {ts}, "nonce": {"42"}, "echostr": {"echo-me-123"}, "signature": {wechatsim.Signature(cbToken, ts, "42")}}
	if code, body := get(q); code != 200 || body != "echo-me-123" {
		t.Fatalf("verify: %d %q", code, body)
	}
	bad := url.Values{"timestamp": {ts}, "nonce": {"42"}, "echostr": {"echo-me-123"}, "signature": {wechatsim.Signature("otherToken", ts, "42")}}
	if code, body := get(bad); code != 401 || strings.Contains(body, "echo-me-123") {
		t.Fatalf("bad signature: %d %q", code, body)
	}
	old := fmt.Sprint(b.clock().Add(-time.Hour).Unix())
	stale := url.Values{"timestamp": {old}, "nonce": {"42"}, "echostr": {"e"}, "signature": {wechatsim.Signature(cbToken, old, "42")}}
	if code, _ := get(stale); code != 401 {
		t.Fatalf("stale: %d", code)
	}
}

// TestCallbackReplay_SharedByInstances: with SeenKeys on a shared store, a
// push handled by one instance is refused as a replay by another.
func TestCallbackReplay_SharedByInstances(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			open := engine.NewDB(t)
			first, second := setupCallback(t, wxnotify.CallbackCompat, false, false), setupCallback(t, wxnotify.CallbackCompat, false, false)
			first.srv.SeenKeys, second.srv.SeenKeys = open(t), open(t)
			cb := first.render(t, appA, popupTwo)
			if code, body := first.post(t, cb); code != 200 {
				t.Fatalf("first instance: %d %s", code, body)
			}
			if code, body := second.post(t, cb); code != 409 {
				t.Fatalf("the same push to a second instance: status=%d, want 409; body=%s", code, body)
			}
			if n := len(second.stored()); n != 0 {
				t.Fatalf("the second instance stored %d batches, want 0", n)
			}
		})
	}
}
