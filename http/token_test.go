package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

const (
	appA = "wxaaaaaaaaaaaaaaaa"
	appB = "wxbbbbbbbbbbbbbbbb"
)

// mustOpenServer runs a Server with a key "key-a" for app A only.
func mustOpenServer(t *testing.T, tokens *mock.TokenService) *wxhttp.Server {
	t.Helper()
	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.TokenService = tokens
	s.APIKeyService = &mock.APIKeyService{AuthenticateFunc: func(_ context.Context, k string) (*wxnotify.APIKey, error) {
		if k == "key-a" {
			return &wxnotify.APIKey{ID: "a", Name: "svc", Apps: []string{appA}}, nil
		}
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "invalid API key")
	}}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func do(t *testing.T, method, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestAccessToken(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour)
	var calls atomic.Int64
	s := mustOpenServer(t, &mock.TokenService{
		TokenFunc: func(_ context.Context, appID string) (*wxnotify.AccessToken, error) {
			calls.Add(1)
			return &wxnotify.AccessToken{AppID: appID, Value: "TOKEN-A", ExpiresAt: exp}, nil
		},
		InvalidateFunc: func(_ context.Context, appID string, tok wxnotify.Secret) (*wxnotify.AccessToken, error) {
			if tok.Reveal() != "TOKEN-A" {
				t.Errorf("invalidate got %q", tok.Reveal())
			}
			return &wxnotify.AccessToken{AppID: appID, Value: "TOKEN-A2", ExpiresAt: exp}, nil
		},
	})

	t.Run("OK", func(t *testing.T) {
		resp, body := do(t, "GET", s.URL()+"/v1/apps/"+appA+"/access_token", "key-a", "")
		if resp.StatusCode != 200 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
		var got wxnotify.AccessTokenResponse
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		if got.AccessToken != "TOKEN-A" || got.ExpiresIn < 3500 || got.ExpiresIn > 3600 {
			t.Fatalf("got %+v", got)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("token response may be cached")
		}
	})
	t.Run("Invalidate", func(t *testing.T) {
		resp, body := do(t, "POST", s.URL()+"/v1/apps/"+appA+"/access_token/invalidate", "key-a", `{"access_token":"TOKEN-A"}`)
		if resp.StatusCode != 200 || !strings.Contains(body, "TOKEN-A2") {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
		resp, body = do(t, "POST", s.URL()+"/v1/apps/"+appA+"/access_token/invalidate", "key-a", `{"access_token":1}`)
		if resp.StatusCode != 400 || !strings.Contains(body, `"field":"access_token"`) {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
	})
	t.Run("ErrNoKey", func(t *testing.T) {
		resp, body := do(t, "GET", s.URL()+"/v1/apps/"+appA+"/access_token", "", "")
		if resp.StatusCode != 401 || strings.Contains(body, "TOKEN") {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		resp, _ := do(t, "GET", s.URL()+"/v1/apps/"+appA+"/access_token", "key-x", "")
		if resp.StatusCode != 401 {
			t.Fatalf("status=%d", resp.StatusCode)
		}
	})
	t.Run("ErrOtherApp", func(t *testing.T) {
		before := calls.Load()
		resp, body := do(t, "GET", s.URL()+"/v1/apps/"+appB+"/access_token", "key-a", "")
		if resp.StatusCode != 403 || strings.Contains(body, "TOKEN") {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
		if calls.Load() != before {
			t.Fatal("token service was asked for another app's token")
		}
	})
	t.Run("ErrNoRoute", func(t *testing.T) {
		resp, body := do(t, "GET", s.URL()+"/v1/nothing", "key-a", "")
		if resp.StatusCode != 404 || !strings.Contains(body, `"code":"not_found"`) {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
	})
}
