package wechat_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/wechat"
)

// secrets are the values that must never be printed.
var secrets = []string{testSecret, testToken, testJSCode, testSessionKey, testFormID}

// assertNoSecret formats v every way a program might print or log it and
// fails if any secret appears.
func assertNoSecret(t *testing.T, name string, v any) {
	t.Helper()
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Error("failed", "v", v)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Error("failed", "v", v)
	outs := []string{
		fmt.Sprint(v),
		fmt.Sprintf("%v", v),
		fmt.Sprintf("%+v", v),
		fmt.Sprintf("%#v", v),
		fmt.Sprintf("%s", v),
		fmt.Sprintf("%q", v),
		logBuf.String(),
	}
	if err, ok := v.(error); ok {
		outs = append(outs, err.Error())
		// Also every error in the chain, as a logger walking it would print.
		for e := err; e != nil; {
			outs = append(outs, e.Error(), fmt.Sprintf("%#v", e))
			u, ok := e.(interface{ Unwrap() error })
			if !ok {
				break
			}
			e = u.Unwrap()
		}
	}
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s: output contains secret %q:\n%s", name, s, out)
			}
		}
	}
}

// TestRedaction provokes every error path with secrets in the request and
// checks that no formatting of the error (or of the secret-holding types)
// reveals them.
func TestRedaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(hang) })

	// echo answers with a body that repeats the request, as some proxies'
	// error pages do, so a client that kept bodies in errors would leak.
	echo := func(status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html>%s %s %s</html>", r.Method, r.URL.String(), b)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	errcode := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"errcode":40001,"errmsg":"invalid credential rid: 1-2-3"}`)
	}))
	t.Cleanup(errcode.Close)

	servers := map[string]string{
		"ClosedPort": closedURL,
		"Timeout":    slow.URL,
		"HTTP502":    echo(502).URL,
		"Decode":     echo(200).URL,
		"Errcode":    errcode.URL,
	}
	calls := map[string]func(*wechat.Client) error{
		"GetAccessToken": func(c *wechat.Client) error {
			_, err := c.GetAccessToken(ctx, testAppID, testSecret)
			return err
		},
		"GetStableAccessToken": func(c *wechat.Client) error {
			_, err := c.GetStableAccessToken(ctx, testAppID, testSecret, true)
			return err
		},
		"Code2Session": func(c *wechat.Client) error {
			_, err := c.Code2Session(ctx, testAppID, testSecret, testJSCode)
			return err
		},
		"SendSubscribe": func(c *wechat.Client) error {
			_, err := c.SendSubscribe(ctx, testToken, &wechat.SubscribeMessage{ToUser: "o", TemplateID: "t"})
			return err
		},
		"SendTemplate": func(c *wechat.Client) error {
			return c.SendTemplate(ctx, testToken, &wechat.TemplateMessage{ToUser: "o", TemplateID: "t", FormID: testFormID})
		},
		"SubscribeTemplateList": func(c *wechat.Client) error {
			_, err := c.SubscribeTemplateList(ctx, testToken)
			return err
		},
		"SubscribeTemplateAdd": func(c *wechat.Client) error {
			_, err := c.SubscribeTemplateAdd(ctx, testToken, "1", []int{1, 2}, "")
			return err
		},
	}
	for sname, base := range servers {
		c := wechat.New(wechat.Options{BaseURL: base, Timeout: 50 * time.Millisecond})
		for cname, call := range calls {
			err := call(c)
			if err == nil {
				t.Fatalf("%s/%s: err = nil", sname, cname)
			}
			if wechat.ClassOf(err) == "" {
				t.Errorf("%s/%s: no class", sname, cname)
			}
			assertNoSecret(t, sname+"/"+cname, err)
		}
	}

	assertNoSecret(t, "AccessToken", wechat.AccessToken{Token: testToken, ExpiresIn: time.Hour})
	assertNoSecret(t, "*AccessToken", &wechat.AccessToken{Token: testToken, ExpiresIn: time.Hour})
	assertNoSecret(t, "Session", wechat.Session{OpenID: "o", SessionKey: testSessionKey})
	assertNoSecret(t, "*Session", &wechat.Session{OpenID: "o", SessionKey: testSessionKey})
	assertNoSecret(t, "TemplateMessage", wechat.TemplateMessage{ToUser: "o", FormID: testFormID})
	assertNoSecret(t, "*TemplateMessage", &wechat.TemplateMessage{ToUser: "o", FormID: testFormID})
	assertNoSecret(t, "[]AccessToken", []wechat.AccessToken{{Token: testToken}})
	assertNoSecret(t, "[]Session", []wechat.Session{{SessionKey: testSessionKey}})
	assertNoSecret(t, "[]TemplateMessage", []wechat.TemplateMessage{{FormID: testFormID}})
}

// TestRedactionKeepsContext checks that redacted output still says what
// failed.
func TestRedactionKeepsContext(t *testing.T) {
	t.Parallel()
	tok := wechat.AccessToken{Token: testToken, ExpiresIn: 2 * time.Hour}
	if got, want := tok.String(), "AccessToken{Token:TOKE…(41) ExpiresIn:2h0m0s}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	s := wechat.Session{OpenID: "openid-1", SessionKey: "short"}
	if got := fmt.Sprint(s); !strings.Contains(got, "openid-1") || strings.Contains(got, "short") {
		t.Errorf("Session = %q", got)
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	_, err := wechat.New(wechat.Options{BaseURL: base}).GetAccessToken(context.Background(), testAppID, testSecret)
	if msg := err.Error(); !strings.HasPrefix(msg, "wechat: GET /cgi-bin/token: ") {
		t.Errorf("err = %q", msg)
	}
}
