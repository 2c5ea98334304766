package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheckURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, addr, path, want string
	}{
		{name: "AllInterfaces", addr: ":8080", path: "/readyz", want: "http://127.0.0.1:8080/readyz"},
		{name: "AllIPv4", addr: "0.0.0.0:8080", path: "/healthz", want: "http://127.0.0.1:8080/healthz"},
		{name: "AllIPv6", addr: "[::]:8080", path: "/readyz", want: "http://[::1]:8080/readyz"},
		{name: "Loopback", addr: "127.0.0.1:9000", path: "/readyz", want: "http://127.0.0.1:9000/readyz"},
		{name: "Host", addr: "notify.internal:80", path: "/readyz", want: "http://notify.internal:80/readyz"},
		{name: "ErrPortZero", addr: "127.0.0.1:0", path: "/readyz"},
		{name: "ErrNoPort", addr: "127.0.0.1", path: "/readyz"},
		{name: "ErrRelativePath", addr: ":8080", path: "readyz"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := healthcheckURL(tt.addr, tt.path)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("healthcheckURL(%q, %q) = %q, want an error", tt.addr, tt.path, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("healthcheckURL(%q, %q) = %q, %v; want %q", tt.addr, tt.path, got, err, tt.want)
			}
		})
	}
}

// TestHealthcheck runs the command against a server that plays serve: 0 and
// the answer for a 200, 6 (unavailable) for anything else or no answer.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"not ready: the database does not answer"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tt := range []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string // in stdout for 0, in stderr otherwise
	}{
		{name: "OK", env: map[string]string{"WXNOTIFY_HTTP_ADDR": ":" + port}, args: []string{"--path", "/healthz"}, want: `{"status":"ok"}`},
		{name: "OKFlag", args: []string{"--addr", "0.0.0.0:" + port, "--path", "/healthz"}, want: `{"status":"ok"}`},
		{name: "OKURL", args: []string{"--url", srv.URL + "/healthz"}, want: `{"status":"ok"}`},
		{name: "ErrNotReady", env: map[string]string{"WXNOTIFY_HTTP_ADDR": ":" + port}, wantCode: 6, want: "503 Service Unavailable: {\"error\":\"not ready"},
		{name: "ErrNoAnswer", args: []string{"--url", closed.URL + "/readyz"}, wantCode: 6, want: "no answer"},
		{name: "ErrPortZero", args: []string{"--addr", "127.0.0.1:0"}, wantCode: 2, want: "pass --url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), append([]string{"healthcheck"}, tt.args...), &Env{
				Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return tt.env[k] },
			})
			out := stdout.String()
			if tt.wantCode != 0 {
				out = stderr.String()
			}
			if code != tt.wantCode || !strings.Contains(out, tt.want) {
				t.Fatalf("healthcheck %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tt.args, code, tt.wantCode, tt.want, stdout.String(), stderr.String())
			}
		})
	}
}
