package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
)

// answer is one reply of the stand-in server of TestClient_RetryPolicy.
type answer struct {
	status int
	header map[string]string
}

// TestClient_RetryPolicy covers what the real server does not answer on
// demand (429, a proxy's 503 without Retry-After, an HTTP-date): which calls
// are retried, how long the client waits, and when it gives up. Each case's
// server answers its answers in turn, then 200 {}.
func TestClient_RetryPolicy(t *testing.T) {
	t.Parallel()
	serverDate := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	call := map[string]func(context.Context, *client.Client) error{
		"GET": func(ctx context.Context, c *client.Client) error { _, err := c.GetBroadcast(ctx, 1); return err },
		"PUT": func(ctx context.Context, c *client.Client) error {
			_, err := c.SetTemplateAlias(ctx, appA, "order_shipped", "T1")
			return err
		},
		"DELETE":            func(ctx context.Context, c *client.Client) error { return c.DeleteWebhook(ctx, 1) },
		"POST":              func(ctx context.Context, c *client.Client) error { _, err := c.CancelMessage(ctx, 1); return err },
		"POSTIdempotent":    func(ctx context.Context, c *client.Client) error { return send(ctx, c, "key-1") },
		"POSTNotIdempotent": func(ctx context.Context, c *client.Client) error { return send(ctx, c, "") },
	}
	ra := func(v string) map[string]string { return map[string]string{"Retry-After": v} }
	on := client.RetryPolicy{MaxAttempts: 3}
	for _, tc := range []struct {
		name     string
		call     string
		policy   client.RetryPolicy
		answers  []answer
		sends    int
		waits    []time.Duration
		wantCode string // "" for success
	}{
		{"GETAfter429", "GET", on, []answer{{429, ra("2")}, {429, ra("2")}}, 3, []time.Duration{2 * time.Second, 2 * time.Second}, ""},
		{"POSTWithIdempotencyKey", "POSTIdempotent", on, []answer{{503, ra("1")}}, 2, []time.Duration{time.Second}, ""},
		{"PUT", "PUT", on, []answer{{503, ra("1")}}, 2, []time.Duration{time.Second}, ""},
		{"GiveUpAfterMaxAttempts", "GET", client.RetryPolicy{MaxAttempts: 2}, []answer{{503, ra("1")}, {503, ra("1")}, {503, ra("1")}}, 2, []time.Duration{time.Second}, wxnotify.EUNAVAILABLE},
		{"RetryAfterOverMaxWait", "GET", client.RetryPolicy{MaxAttempts: 3, MaxWait: 10 * time.Second}, []answer{{429, ra("60")}}, 1, nil, wxnotify.ERATELIMIT},
		{"DefaultMaxWait", "GET", on, []answer{{503, ra("31")}}, 1, nil, wxnotify.EUNAVAILABLE},
		{"NoRetryAfterBacksOff", "GET", on, []answer{{503, nil}, {503, nil}}, 3, []time.Duration{client.DefaultRetryBackoff, 2 * client.DefaultRetryBackoff}, ""},
		{"BadRetryAfterBacksOff", "GET", on, []answer{{503, ra("soon")}}, 2, []time.Duration{client.DefaultRetryBackoff}, ""},
		{"HTTPDate", "GET", on, []answer{{429, map[string]string{
			"Date": serverDate.Format(http.TimeFormat), "Retry-After": serverDate.Add(3 * time.Second).Format(http.TimeFormat),
		}}}, 2, []time.Duration{3 * time.Second}, ""},
		{"HTTPDateInThePast", "GET", on, []answer{{429, map[string]string{
			"Date": serverDate.Format(http.TimeFormat), "Retry-After": serverDate.Add(-time.Minute).Format(http.TimeFormat),
		}}}, 2, []time.Duration{0}, ""},
		{"Off", "GET", client.RetryPolicy{}, []answer{{503, ra("1")}}, 1, nil, wxnotify.EUNAVAILABLE},
		{"OneAttempt", "GET", client.RetryPolicy{MaxAttempts: 1}, []answer{{503, ra("1")}}, 1, nil, wxnotify.EUNAVAILABLE},
		{"POSTWithoutIdempotencyKey", "POSTNotIdempotent", on, []answer{{503, ra("1")}}, 1, nil, wxnotify.EUNAVAILABLE},
		{"POSTAction", "POST", on, []answer{{429, ra("1")}}, 1, nil, wxnotify.ERATELIMIT},
		{"DELETE", "DELETE", on, []answer{{503, ra("1")}}, 1, nil, wxnotify.EUNAVAILABLE},
		{"Status500", "GET", on, []answer{{500, ra("1")}}, 1, nil, wxnotify.EINTERNAL},
		{"Status409", "PUT", on, []answer{{409, nil}}, 1, nil, wxnotify.ECONFLICT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				n := len(bodies)
				bodies = append(bodies, r.Method+" "+string(b))
				mu.Unlock()
				if n < len(tc.answers) {
					a := tc.answers[n]
					for k, v := range a.header {
						w.Header().Set(k, v)
					}
					w.WriteHeader(a.status)
					fmt.Fprintf(w, `{"error":{"code":%q,"message":"answer %d"}}`, wxnotify.ErrorCodeFromStatus(a.status), n+1)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{}`)
			}))
			defer srv.Close()
			var waits []time.Duration
			p := tc.policy
			p.SleepFunc = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			err := call[tc.call](context.Background(), client.New(srv.URL, "wxk_a_b", client.WithRetry(p)))
			if got := wxnotify.ErrorCode(err); err != nil && got != tc.wantCode || err == nil && tc.wantCode != "" {
				t.Fatalf("err=%v (code %q), want code %q", err, got, tc.wantCode)
			}
			if len(bodies) != tc.sends {
				t.Fatalf("sent %d times (%q), want %d", len(bodies), bodies, tc.sends)
			}
			for _, b := range bodies[1:] {
				if b != bodies[0] {
					t.Fatalf("a retry sent %q, the first attempt %q", b, bodies[0])
				}
			}
			if fmt.Sprint(waits) != fmt.Sprint(tc.waits) {
				t.Fatalf("waited %v, want %v", waits, tc.waits)
			}
		})
	}
}

func send(ctx context.Context, c *client.Client, key string) error {
	_, err := c.SendMessage(ctx, &client.SendParams{AppID: appA, OpenID: "o1", TemplateID: "T1",
		Data: map[string]string{"thing1": "x"}, IdempotencyKey: key})
	return err
}

// TestClient_RetryWait: the wait itself, with the real timer.
func TestClient_RetryWait(t *testing.T) {
	t.Parallel()
	unavailable := func(retryAfter string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", retryAfter)
			w.WriteHeader(http.StatusServiceUnavailable)
		}))
	}
	t.Run("ContextEndsTheWait", func(t *testing.T) {
		t.Parallel()
		srv := unavailable("20")
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		c := client.New(srv.URL, "k", client.WithRetry(client.RetryPolicy{MaxAttempts: 2}))
		done := make(chan error, 1)
		go func() { _, err := c.GetBroadcast(ctx, 1); done <- err }()
		cancel() // before or during the wait: either way the call ends now, not in 20 s
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err=%v, want context.Canceled", err)
		}
	})
	t.Run("WaitPastTheDeadline", func(t *testing.T) {
		t.Parallel()
		srv := unavailable("20")
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := client.New(srv.URL, "k", client.WithRetry(client.RetryPolicy{MaxAttempts: 2}))
		_, err := c.GetBroadcast(ctx, 1) // returned at once: the wait would outlast ctx
		if wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE || ctx.Err() != nil {
			t.Fatalf("err=%v (ctx %v), want the 503 before the deadline", err, ctx.Err())
		}
	})
	t.Run("Timer", func(t *testing.T) {
		t.Parallel()
		var n int
		var mu sync.Mutex
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			first := n == 1
			mu.Unlock()
			if first {
				w.Header().Set("Retry-After", strconv.Itoa(0))
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			fmt.Fprint(w, `{"id":1}`)
		}))
		defer srv.Close()
		b, err := client.New(srv.URL, "k", client.WithRetry(client.RetryPolicy{MaxAttempts: 2})).GetBroadcast(context.Background(), 1)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || b.ID != 1 || n != 2 {
			t.Fatalf("%+v %v after %d sends", b, err, n)
		}
	})
}

// TestClient_RetryErrorsKeepNoKey: the error after the last attempt names
// neither the API key nor anything but the answer.
func TestClient_RetryErrorsKeepNoKey(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"unavailable","message":"database unavailable"}}`)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c := client.New(srv.URL, "wxk_secret_key", client.WithRetry(client.RetryPolicy{MaxAttempts: 2,
		SleepFunc: func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }}))
	_, err := c.GetBroadcast(ctx, 1)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "database unavailable") || strings.Contains(err.Error(), "wxk_secret_key") {
		t.Fatalf("err=%v, want the cancellation with the last answer's message and no key", err)
	}
}
