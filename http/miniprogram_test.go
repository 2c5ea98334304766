package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

// mpBundle is a Server with mock session and credit services: session
// "wxs_a" is user "oA" of app A, "wxs_b" user "oB" of app B.
type mpBundle struct {
	srv *wxhttp.Server

	mu      sync.Mutex
	logins  []string // codes
	formIDs [][]string
	results []map[string]wxnotify.SubscribeChoice
	users   []string // appid/openid of every credit call
	filters []wxnotify.CreditFilter
	credErr error
}

func (b *mpBundle) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.logins) + len(b.formIDs) + len(b.results) + len(b.filters)
}

var mpNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func setupMP(t *testing.T, configure func(*wxhttp.Server)) *mpBundle {
	t.Helper()
	b := &mpBundle{}
	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.Now = func() time.Time { return mpNow }
	sessions := map[string]*wxnotify.Session{
		"wxs_a": {AppID: appA, OpenID: "oA", ExpiresAt: mpNow.Add(time.Hour)},
		"wxs_b": {AppID: appB, OpenID: "oB", ExpiresAt: mpNow.Add(time.Hour)},
	}
	s.SessionService = &mock.SessionService{
		LoginFunc: func(_ context.Context, appID, code string) (string, *wxnotify.Session, error) {
			b.mu.Lock()
			b.logins = append(b.logins, code)
			b.mu.Unlock()
			if code == "used" {
				return "", nil, wxnotify.FieldErrorf("code", "code was used already")
			}
			return "wxs_new", &wxnotify.Session{AppID: appID, OpenID: "oSECRETOPENID", ExpiresAt: mpNow.Add(wxnotify.DefaultSessionTTL)}, nil
		},
		AuthenticateFunc: func(_ context.Context, tok string) (*wxnotify.Session, error) {
			if sess, ok := sessions[tok]; ok {
				return sess, nil
			}
			return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "session invalid or expired")
		},
	}
	s.CreditService = &mock.CreditService{
		AddFormIDsFunc: func(_ context.Context, appID, openID string, kind wxnotify.CreditKind, values []string, source string) (int, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			if kind != wxnotify.CreditFormID || source != "miniprogram" {
				t.Errorf("AddFormIDs kind=%q source=%q", kind, source)
			}
			b.formIDs = append(b.formIDs, values)
			b.users = append(b.users, appID+"/"+openID)
			return len(values), b.credErr
		},
		RecordSubscribeResultFunc: func(_ context.Context, appID, openID string, result map[string]wxnotify.SubscribeChoice, _ string) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.results = append(b.results, result)
			b.users = append(b.users, appID+"/"+openID)
			return b.credErr
		},
		CreditStocksFunc: func(_ context.Context, f wxnotify.CreditFilter) ([]*wxnotify.CreditStock, error) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.filters = append(b.filters, f)
			return []*wxnotify.CreditStock{
				{AppID: *f.AppID, OpenID: *f.OpenID, Kind: wxnotify.CreditFormID, Credits: 3, Uses: 3},
				{AppID: *f.AppID, OpenID: *f.OpenID, Kind: wxnotify.CreditSubscribe, TemplateID: "TPL1", Credits: 2, Uses: 2},
			}, nil
		},
	}
	if configure != nil {
		configure(s)
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	b.srv = s
	return b
}

func (b *mpBundle) url(appID, path string) string {
	return b.srv.URL() + "/mp/v1/apps/" + appID + "/" + path
}

// doMP sends a mini-program request; header is "Authorization" or
// wxhttp.SessionHeader.
func doMP(t *testing.T, method, url, tok, body string) (*http.Response, string) {
	t.Helper()
	return do(t, method, url, tok, body)
}

func wantError(t *testing.T, resp *http.Response, body string, status int, field string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status=%d, want %d; body=%s", resp.StatusCode, status, body)
	}
	var e wxnotify.ErrorResponse
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if e.Error.Field != field {
		t.Fatalf("field=%q, want %q; body=%s", e.Error.Field, field, body)
	}
}

func TestMiniProgramLogin(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		resp, body := doMP(t, "POST", b.url(appA, "login"), "", `{"code":"c1"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
		var got wxhttp.LoginResponse
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		if got.SessionToken != "wxs_new" || !got.ExpiresAt.Equal(mpNow.Add(wxnotify.DefaultSessionTTL)) ||
			got.ExpiresIn != int64(wxnotify.DefaultSessionTTL.Seconds()) {
			t.Fatalf("got %+v", got)
		}
		if strings.Contains(body, "oSECRETOPENID") || strings.Contains(body, "session_key") {
			t.Fatalf("login answer leaks the openid or session_key: %s", body)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("login answer may be cached")
		}
	})
	t.Run("ErrCode", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		resp, body := doMP(t, "POST", b.url(appA, "login"), "", `{"code":"used"}`)
		wantError(t, resp, body, 400, "code")
		resp, body = doMP(t, "POST", b.url(appA, "login"), "", `{}`)
		wantError(t, resp, body, 400, "code")
		resp, body = doMP(t, "POST", b.url(appA, "login"), "", `{"code":1}`)
		wantError(t, resp, body, 400, "code")
	})
	t.Run("ErrBody", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		for _, tc := range []struct{ name, body, field string }{
			{"OpenID", `{"code":"c","openid":"oOther"}`, "openid"},
			{"OpenIDCamel", `{"code":"c","openId":"oOther"}`, "openId"},
			{"Unknown", `{"code":"c","extra":1}`, "extra"},
			{"Malformed", `{"code":`, ""},
			{"NotObject", `["c"]`, ""},
			{"Null", `null`, ""},
		} {
			resp, body := doMP(t, "POST", b.url(appA, "login"), "", tc.body)
			if resp.StatusCode != 400 {
				t.Fatalf("%s: status=%d body=%s", tc.name, resp.StatusCode, body)
			}
			wantError(t, resp, body, 400, tc.field)
		}
		resp, body := doMP(t, "POST", b.srv.URL()+"/mp/v1/apps/notanappid/login", "", `{"code":"c"}`)
		wantError(t, resp, body, 400, "appid")
		if n := b.calls(); n != 0 {
			t.Fatalf("service called %d times for refused requests", n)
		}
	})
}

func TestMiniProgramAuth(t *testing.T) {
	t.Parallel()
	b := setupMP(t, nil)
	t.Run("ErrNoSession", func(t *testing.T) {
		resp, body := doMP(t, "GET", b.url(appA, "credits"), "", "")
		wantError(t, resp, body, 401, "")
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("no WWW-Authenticate")
		}
	})
	t.Run("ErrUnknownSession", func(t *testing.T) {
		resp, body := doMP(t, "POST", b.url(appA, "form_ids"), "wxs_unknown", `{"form_ids":["f1"]}`)
		wantError(t, resp, body, 401, "")
	})
	t.Run("ErrOtherApp", func(t *testing.T) {
		resp, body := doMP(t, "POST", b.url(appA, "form_ids"), "wxs_b", `{"form_ids":["f1"]}`)
		wantError(t, resp, body, 403, "")
	})
	t.Run("SessionHeader", func(t *testing.T) {
		req, _ := http.NewRequest("GET", b.url(appA, "credits"), nil)
		req.Header.Set(wxhttp.SessionHeader, "wxs_a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status=%d", resp.StatusCode)
		}
	})
	if n := b.calls(); n != 1 {
		t.Fatalf("credit service called %d times, want 1 (only the authorised request)", n)
	}
}

func TestMiniProgramFormIDs(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		resp, body := doMP(t, "POST", b.url(appA, "form_ids"), "wxs_a", `{"form_ids":["f1","f2","`+wxnotify.MockFormID+`"]}`)
		if resp.StatusCode != 200 || body != "{\"added\":3}\n" {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
		if got := fmt.Sprint(b.formIDs, b.users); got != "[[f1 f2 "+wxnotify.MockFormID+"]] ["+appA+"/oA]" {
			t.Fatalf("calls %s", got)
		}
	})
	t.Run("ErrRefusedWhole", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		many := `"f"` + strings.Repeat(`,"f"`, wxnotify.MaxFormIDsPerReport)
		for _, tc := range []struct{ name, body, field string }{
			{"OpenID", `{"form_ids":["f1"],"openid":"oOther"}`, "openid"},
			{"ToUser", `{"form_ids":["f1"],"touser":"oOther"}`, "touser"},
			{"OpenIDUpper", `{"OPENID":"oOther","form_ids":["f1"]}`, "OPENID"},
			{"Missing", `{}`, "form_ids"},
			{"Empty", `{"form_ids":[]}`, "form_ids"},
			{"TooMany", `{"form_ids":[` + many + `]}`, "form_ids"},
			{"EmptyValue", `{"form_ids":["f1",""]}`, "form_ids[1]"},
			{"LongValue", `{"form_ids":["` + strings.Repeat("x", 129) + `"]}`, "form_ids[0]"},
			{"Control", `{"form_ids":["f\n1"]}`, "form_ids[0]"},
			{"NotString", `{"form_ids":["f1",2]}`, "form_ids"},
			{"Prepay", `{"prepay_ids":["p1"]}`, "prepay_ids"},
			{"Malformed", `{"form_ids":["f1"`, ""},
		} {
			resp, body := doMP(t, "POST", b.url(appA, "form_ids"), "wxs_a", tc.body)
			if resp.StatusCode != 400 {
				t.Fatalf("%s: status=%d body=%s", tc.name, resp.StatusCode, body)
			}
			wantError(t, resp, body, 400, tc.field)
		}
		if n := b.calls(); n != 0 {
			t.Fatalf("credit service called %d times for refused requests", n)
		}
	})
	t.Run("ErrBodyTooLarge", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		resp, body := doMP(t, "POST", b.url(appA, "form_ids"), "wxs_a", `{"form_ids":["`+strings.Repeat("x", wxhttp.MiniProgramMaxBodyBytes)+`"]}`)
		wantError(t, resp, body, 400, "")
		if !strings.Contains(body, "larger than") {
			t.Fatalf("body=%s", body)
		}
	})
	t.Run("ErrService", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		b.credErr = wxnotify.FieldErrorf("form_ids[0]", "form_id refused")
		resp, body := doMP(t, "POST", b.url(appA, "form_ids"), "wxs_a", `{"form_ids":["f1"]}`)
		wantError(t, resp, body, 400, "form_ids[0]")
	})
}

func TestMiniProgramSubscriptions(t *testing.T) {
	t.Parallel()
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		resp, body := doMP(t, "POST", b.url(appA, "subscriptions"), "wxs_a",
			`{"TPL-accept_1":"accept","TPL2":"reject","TPL3":"ban","TPL4":"filter","errMsg":"requestSubscribeMessage:ok"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("status=%d body=%s", resp.StatusCode, body)
		}
		var got wxhttp.SubscribeResponse
		json.Unmarshal([]byte(body), &got)
		if got.Recorded != 4 || got.Accepted != 1 {
			t.Fatalf("got %+v", got)
		}
		want := map[string]wxnotify.SubscribeChoice{"TPL-accept_1": "accept", "TPL2": "reject", "TPL3": "ban", "TPL4": "filter"}
		if len(b.results) != 1 || fmt.Sprint(b.results[0]) != fmt.Sprint(want) || b.users[0] != appA+"/oA" {
			t.Fatalf("results=%v users=%v", b.results, b.users)
		}
	})
	t.Run("ErrRefusedWhole", func(t *testing.T) {
		t.Parallel()
		b := setupMP(t, nil)
		for _, tc := range []struct{ name, body, field string }{
			{"BadValue", `{"TPL1":"accept","TPL2":"maybe"}`, "TPL2"},
			{"NotString", `{"TPL1":true}`, "TPL1"},
			{"OpenID", `{"TPL1":"accept","openid":"oOther"}`, "openid"},
			{"OpenIDCamel", `{"TPL1":"accept","openId":"oOther"}`, "openId"},
			{"ToUser", `{"TPL1":"accept","touser":"oOther"}`, "touser"},
			{"BadTemplateID", `{"TPL 1":"accept"}`, "TPL 1"},
			{"OnlyErrMsg", `{"errMsg":"requestSubscribeMessage:ok"}`, ""},
			{"NotObject", `"accept"`, ""},
		} {
			resp, body := doMP(t, "POST", b.url(appA, "subscriptions"), "wxs_a", tc.body)
			if resp.StatusCode != 400 {
				t.Fatalf("%s: status=%d body=%s", tc.name, resp.StatusCode, body)
			}
			wantError(t, resp, body, 400, tc.field)
		}
		if n := b.calls(); n != 0 {
			t.Fatalf("credit service called %d times for refused requests", n)
		}
	})
}

func TestMiniProgramCredits(t *testing.T) {
	t.Parallel()
	b := setupMP(t, nil)
	resp, body := doMP(t, "GET", b.url(appA, "credits"), "wxs_a", "")
	if resp.StatusCode != 200 {
		t.Fatalf("status=%d body=%s", resp.StatusCode, body)
	}
	var got wxhttp.CreditsResponse
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Credits) != 2 || got.Credits[0].Kind != wxnotify.CreditFormID || got.Credits[0].Uses != 3 ||
		got.Credits[1].TemplateID != "TPL1" || got.Credits[1].Credits != 2 {
		t.Fatalf("got %+v", got)
	}
	if strings.Contains(body, "oA") || strings.Contains(body, "openid") {
		t.Fatalf("credits answer names the user: %s", body)
	}
	if f := b.filters[0]; *f.AppID != appA || *f.OpenID != "oA" {
		t.Fatalf("filter %s/%s, want the session's user", *f.AppID, *f.OpenID)
	}
}

func TestMiniProgramRateLimit(t *testing.T) {
	t.Parallel()
	now := mpNow
	var mu sync.Mutex
	b := setupMP(t, func(s *wxhttp.Server) {
		s.SessionRate, s.SessionBurst = 1, 3
		s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	for i := range 3 {
		if resp, body := doMP(t, "GET", b.url(appA, "credits"), "wxs_a", ""); resp.StatusCode != 200 {
			t.Fatalf("request %d: status=%d body=%s", i, resp.StatusCode, body)
		}
	}
	resp, body := doMP(t, "GET", b.url(appA, "credits"), "wxs_a", "")
	wantError(t, resp, body, 429, "")
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After=%q, want 1", resp.Header.Get("Retry-After"))
	}
	// Another session has its own budget.
	if resp, body := doMP(t, "GET", b.url(appB, "credits"), "wxs_b", ""); resp.StatusCode != 200 {
		t.Fatalf("other session: status=%d body=%s", resp.StatusCode, body)
	}
	// A refused request spends nothing: one second later one more passes.
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if resp, body := doMP(t, "GET", b.url(appA, "credits"), "wxs_a", ""); resp.StatusCode != 200 {
		t.Fatalf("after a second: status=%d body=%s", resp.StatusCode, body)
	}
	if resp, _ := doMP(t, "GET", b.url(appA, "credits"), "wxs_a", ""); resp.StatusCode != 429 {
		t.Fatalf("status=%d, want 429", resp.StatusCode)
	}
}

func TestMiniProgramNotConfigured(t *testing.T) {
	t.Parallel()
	b := setupMP(t, func(s *wxhttp.Server) { s.CreditService = nil })
	resp, body := doMP(t, "GET", b.url(appA, "credits"), "wxs_a", "")
	wantError(t, resp, body, 503, "")
}
