package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
)

// TestReadyz: /readyz reports each dependency, and is 503 with the failing
// one's safe message when one fails; the cause is only logged.
func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) (any, error) { return nil, nil }
	for _, tt := range []struct {
		name       string
		secretKey  func(context.Context) (any, error)
		wantStatus int
		wantBody   string
	}{
		{"OK", ok, http.StatusOK, `"status":"ready"`},
		{"ErrSecretKey", func(context.Context) (any, error) {
			return nil, fmt.Errorf("%w: %w", wxnotify.Errorf(wxnotify.EUNAVAILABLE, "the secret key does not open the stored app secrets"), errors.New("key id 1a2b"))
		}, http.StatusServiceUnavailable, `"secret_key":{"ok":false,"error":"the secret key does not open the stored app secrets"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := wxhttp.NewServer()
			s.Addr = "127.0.0.1:0"
			s.ReadyChecks = []wxhttp.ReadyCheck{
				{Name: "database", Check: func(context.Context) (any, error) { return map[string]string{"engine": "sqlite"}, nil }},
				{Name: "secret_key", Check: tt.secretKey},
			}
			if err := s.Open(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			resp, body := do(t, "GET", s.URL()+"/readyz", "", "")
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) || !strings.Contains(body, `"database":{"ok":true,"detail":{"engine":"sqlite"}}`) {
				t.Fatalf("readyz: %d %s, want %d with %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(body, "1a2b") {
				t.Fatal("the cause reached the unauthenticated body")
			}
			var v struct {
				Checks map[string]json.RawMessage `json:"checks"`
			}
			if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Checks) != 2 {
				t.Fatalf("body %s: %v", body, err)
			}
		})
	}

	t.Run("ReadyFuncIsTheDatabaseCheck", func(t *testing.T) {
		t.Parallel()
		s := wxhttp.NewServer()
		s.Addr = "127.0.0.1:0"
		s.Ready = func(context.Context) error { return errors.New("database is locked") }
		if err := s.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		resp, body := do(t, "GET", s.URL()+"/readyz", "", "")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `"database":{"ok":false,"error":"the database does not answer"}`) {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
	})
}
