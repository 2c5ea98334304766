package session_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/session"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	appA    = "wxaaaaaaaaaaaaaaaa"
	secretA = "secret-of-app-a-0123456789"
)

type testBundle struct {
	svc   *session.Service
	store store.Driver
	box   *seal.Box
	sim   *wechatsim.Server
	logs  *bytes.Buffer

	mu  sync.Mutex
	now time.Time
}

func (b *testBundle) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *testBundle) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

// setup gives a Service on a fresh database of the engine, with app A
// registered both in wxnotify and in a simulator sharing the test clock.
func setup(t *testing.T, e testdb.Engine) *testBundle {
	t.Helper()
	b := &testBundle{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), logs: &bytes.Buffer{}}
	b.store = e.NewDB(t)(t)
	box, err := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	b.box = box
	apps := &token.AppService{Store: b.store, Box: box, Now: b.clock}
	if err := apps.CreateApp(t.Context(), &wxnotify.App{AppID: appA, Name: "A", Secret: secretA}); err != nil {
		t.Fatal(err)
	}
	b.sim = wechatsim.New(wechatsim.Options{Now: b.clock})
	b.sim.AddApp(wechatsim.App{AppID: appA, Secret: secretA})
	hs := httptest.NewServer(b.sim)
	t.Cleanup(hs.Close)
	b.svc = &session.Service{
		Store:   b.store,
		Box:     box,
		Secrets: apps,
		WeChat:  wechat.New(wechat.Options{BaseURL: hs.URL}),
		Now:     b.clock,
		Logger:  slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return b
}

func forEngine(t *testing.T, f func(t *testing.T, b *testBundle)) {
	t.Helper()
	for _, e := range testdb.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			f(t, setup(t, e))
		})
	}
}

func wantCode(t *testing.T, err error, code, field string) {
	t.Helper()
	if got := wxnotify.ErrorCode(err); got != code {
		t.Fatalf("err=%v: code %q, want %q", err, got, code)
	}
	if got := wxnotify.ErrorField(err); got != field {
		t.Fatalf("err=%v: field %q, want %q", err, got, field)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, b *testBundle) {
		ctx := t.Context()
		code := b.sim.MintLoginCode(appA, "oUser1")
		tok, sess, err := b.svc.Login(ctx, appA, code)
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if !strings.HasPrefix(tok, session.TokenPrefix) || len(tok) != len(session.TokenPrefix)+52 {
			t.Fatalf("token %q: want wxs_ and 52 base32 characters", tok)
		}
		if sess.AppID != appA || sess.OpenID != "oUser1" || !sess.ExpiresAt.Equal(b.clock().Add(wxnotify.DefaultSessionTTL)) {
			t.Fatalf("session %+v", sess)
		}

		got, err := b.svc.Authenticate(ctx, tok)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if *got != *sess {
			t.Fatalf("Authenticate=%+v, want %+v", got, sess)
		}

		// Only the hash is stored; the session_key is sealed for the app.
		hash := sha256.Sum256([]byte(tok))
		row, err := b.store.SessionGet(ctx, hash[:])
		if err != nil {
			t.Fatal(err)
		}
		key, err := b.box.Open(row.SessionKeySealed, "session_key:"+appA)
		if err != nil {
			t.Fatalf("open session_key: %v", err)
		}
		if raw, err := base64.StdEncoding.DecodeString(string(key)); err != nil || len(raw) != 16 {
			t.Fatalf("session_key %d bytes, err %v: want base64 of 16 bytes", len(raw), err)
		}
		if bytes.Contains(row.SessionKeySealed, key) {
			t.Fatal("session_key stored in clear")
		}
		// Never returned or logged.
		j, _ := json.Marshal(sess)
		for what, text := range map[string]string{"session JSON": string(j), "session": fmt.Sprintf("%+v", sess), "logs": b.logs.String()} {
			if strings.Contains(text, string(key)) {
				t.Fatalf("%s contains the session_key: %s", what, text)
			}
			if strings.Contains(text, tok) || strings.Contains(text, secretA) {
				t.Fatalf("%s contains the token or app secret: %s", what, text)
			}
		}

		// Two logins are two sessions.
		tok2, _, err := b.svc.Login(ctx, appA, b.sim.MintLoginCode(appA, "oUser1"))
		if err != nil || tok2 == tok {
			t.Fatalf("second login: %q, %v", tok2, err)
		}
	})
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, b *testBundle) {
		ctx := t.Context()
		t.Run("CodeSingleUse", func(t *testing.T) {
			code := b.sim.MintLoginCode(appA, "oUser1")
			if _, _, err := b.svc.Login(ctx, appA, code); err != nil {
				t.Fatal(err)
			}
			_, _, err := b.svc.Login(ctx, appA, code)
			wantCode(t, err, wxnotify.EINVALID, "code")
		})
		t.Run("CodeUnknown", func(t *testing.T) {
			_, _, err := b.svc.Login(ctx, appA, "no-such-code")
			wantCode(t, err, wxnotify.EINVALID, "code")
		})
		t.Run("CodeMalformed", func(t *testing.T) {
			before := b.sim.Calls("/sns/jscode2session", "")
			for _, c := range []string{"", "has space", strings.Repeat("x", session.MaxCodeLen+1), "código"} {
				_, _, err := b.svc.Login(ctx, appA, c)
				wantCode(t, err, wxnotify.EINVALID, "code")
			}
			if n := b.sim.Calls("/sns/jscode2session", "") - before; n != 0 {
				t.Fatalf("%d calls to WeChat for codes refused up front", n)
			}
		})
		t.Run("UnknownApp", func(t *testing.T) {
			_, _, err := b.svc.Login(ctx, "wxbbbbbbbbbbbbbbbb", "c")
			wantCode(t, err, wxnotify.ENOTFOUND, "")
		})
		t.Run("WeChatBusy", func(t *testing.T) {
			b.sim.InjectFault(wechatsim.Fault{Path: "/sns/jscode2session", ErrCode: -1, Count: 1})
			_, _, err := b.svc.Login(ctx, appA, b.sim.MintLoginCode(appA, "oUser1"))
			wantCode(t, err, wxnotify.EUNAVAILABLE, "")
		})
		// Last: it moves the clock.
		t.Run("CodeExpired", func(t *testing.T) {
			code := b.sim.MintLoginCode(appA, "oUser1")
			b.advance(wechatsim.LoginCodeLifetime + time.Second)
			_, _, err := b.svc.Login(ctx, appA, code)
			wantCode(t, err, wxnotify.EINVALID, "code")
		})
	})
}

func TestLoginNetworkDown(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, b *testBundle) {
		hs := httptest.NewServer(b.sim)
		hs.Close() // nothing listens there any more
		b.svc.WeChat = wechat.New(wechat.Options{BaseURL: hs.URL})
		_, _, err := b.svc.Login(t.Context(), appA, "c")
		wantCode(t, err, wxnotify.EUNAVAILABLE, "")
		if strings.Contains(err.Error(), secretA) {
			t.Fatalf("error shows the secret: %v", err)
		}
	})
}

func TestLoginWrongSecret(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, b *testBundle) {
		b.sim.AddApp(wechatsim.App{AppID: appA, Secret: "a-different-secret"})
		_, _, err := b.svc.Login(t.Context(), appA, b.sim.MintLoginCode(appA, "oUser1"))
		wantCode(t, err, wxnotify.EINTERNAL, "")
		if wxnotify.ErrorMessage(err) != "Internal error." || strings.Contains(err.Error(), secretA) {
			t.Fatalf("err=%v", err)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, b *testBundle) {
		ctx := t.Context()
		tok, _, err := b.svc.Login(ctx, appA, b.sim.MintLoginCode(appA, "oUser1"))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{
			"", "wxs_", "wxk_" + tok[4:], tok[:len(tok)-1], tok + "a", strings.ToUpper(tok),
			session.TokenPrefix + strings.Repeat("a", 52), // well-formed, unknown
		} {
			_, err := b.svc.Authenticate(ctx, bad)
			wantCode(t, err, wxnotify.EUNAUTHORIZED, "")
		}

		// Expired at ExpiresAt exactly, and purged after.
		b.advance(wxnotify.DefaultSessionTTL - time.Second)
		if _, err := b.svc.Authenticate(ctx, tok); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		if n, err := b.svc.PurgeExpired(ctx); err != nil || n != 0 {
			t.Fatalf("PurgeExpired before expiry=%d, %v", n, err)
		}
		b.advance(time.Second)
		_, err = b.svc.Authenticate(ctx, tok)
		wantCode(t, err, wxnotify.EUNAUTHORIZED, "")
		if n, err := b.svc.PurgeExpired(ctx); err != nil || n != 1 {
			t.Fatalf("PurgeExpired=%d, %v; want 1", n, err)
		}
		hash := sha256.Sum256([]byte(tok))
		if _, err := b.store.SessionGet(ctx, hash[:]); err != store.ErrNotFound {
			t.Fatalf("purged session still stored: %v", err)
		}
	})
}

func TestTTL(t *testing.T) {
	t.Parallel()
	forEngine(t, func(t *testing.T, b *testBundle) {
		b.svc.TTL = time.Hour
		_, sess, err := b.svc.Login(t.Context(), appA, b.sim.MintLoginCode(appA, "oUser1"))
		if err != nil {
			t.Fatal(err)
		}
		if !sess.ExpiresAt.Equal(b.clock().Add(time.Hour)) {
			t.Fatalf("ExpiresAt=%v", sess.ExpiresAt)
		}
	})
}
