package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/mock"
)

const dashPassword = "operator-pass-1234"

// dashApps is a wxnotify.AppService over a fixed list.
type dashApps struct{ apps []*wxnotify.App }

func (a *dashApps) CreateApp(context.Context, *wxnotify.App) error { return nil }
func (a *dashApps) FindAppByID(_ context.Context, id string) (*wxnotify.App, error) {
	for _, x := range a.apps {
		if x.AppID == id {
			return x, nil
		}
	}
	return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "no app")
}
func (a *dashApps) FindApps(context.Context) ([]*wxnotify.App, error) {
	out := make([]*wxnotify.App, len(a.apps))
	for i, x := range a.apps {
		c := *x
		out[i] = &c
	}
	return out, nil
}
func (a *dashApps) DeleteApp(context.Context, string) error { return nil }

// dashMessages is a wxnotify.MessageService over a fixed list; it records
// the filter and the caller's key of the last FindMessages.
type dashMessages struct {
	mu       sync.Mutex
	msgs     []*wxnotify.Message
	attempts map[int64][]*wxnotify.Attempt
	filter   wxnotify.MessageFilter
	key      *wxnotify.APIKey
}

func (m *dashMessages) Enqueue(context.Context, *wxnotify.Message) (bool, error) { return true, nil }
func (m *dashMessages) FindMessageByID(ctx context.Context, id int64) (*wxnotify.Message, []*wxnotify.Attempt, error) {
	for _, x := range m.msgs {
		if x.ID == id {
			if err := wxnotify.CheckAppAccess(ctx, x.AppID); err != nil {
				return nil, nil, err
			}
			return x, m.attempts[id], nil
		}
	}
	return nil, nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "message %d not found", id)
}
func (m *dashMessages) FindMessages(ctx context.Context, f wxnotify.MessageFilter) ([]*wxnotify.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filter, m.key = f, wxnotify.APIKeyFromContext(ctx)
	if m.key == nil {
		return nil, wxnotify.Errorf(wxnotify.EUNAUTHORIZED, "API key required")
	}
	return m.msgs, nil
}
func (m *dashMessages) CancelMessage(context.Context, int64) (*wxnotify.Message, error) {
	return nil, nil
}
func (m *dashMessages) RetryMessage(_ context.Context, id int64) (*wxnotify.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.msgs {
		if x.ID == id {
			y := *x
			y.State = wxnotify.MessageQueued
			return &y, nil
		}
	}
	return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "message %d not found", id)
}

// clock is a settable time for the Server's Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type dashBundle struct {
	srv      *wxhttp.Server
	url      string
	clock    *clock
	messages *dashMessages
	audit    *memAudit
	counts   map[string]int64
	errs     map[string]int64
	mu       sync.Mutex
}

// setupDashboard runs a Server with the dashboard enabled (unless password
// is empty) over fakes of every service it reads.
func setupDashboard(t *testing.T, password string) *dashBundle {
	t.Helper()
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	b := &dashBundle{clock: &clock{t: now}, counts: map[string]int64{}, errs: map[string]int64{}}
	b.messages = &dashMessages{
		msgs: []*wxnotify.Message{
			{ID: 7, AppID: appA, OpenID: "oUSER7", Kind: wxnotify.MessageSubscribe, TemplateID: "TPL", Data: map[string]string{"thing1": "x"}, State: wxnotify.MessageDelivered, Attempts: 1, BroadcastID: 3},
			{ID: 6, AppID: appB, OpenID: "oUSER6", Kind: wxnotify.MessageSubscribe, TemplateID: "TPL", Data: map[string]string{"thing1": "x"}, State: wxnotify.MessageFailed, Attempts: 2},
		},
		attempts: map[int64][]*wxnotify.Attempt{7: {{MessageID: 7, N: 1, ErrCode: 0, LatencyMS: 12.5}}},
	}
	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.Now = b.clock.Now
	s.DashboardPassword = wxnotify.Secret(password)
	s.AppService = &dashApps{apps: []*wxnotify.App{
		{AppID: appA, Name: "shop", Secret: "APP-SECRET-A"},
		{AppID: appB, Name: "blog", Secret: "APP-SECRET-B"},
	}}
	s.TokenService = &mock.TokenService{StatusFunc: func(_ context.Context, appID string) (*wxnotify.TokenStatus, error) {
		now := b.clock.Now()
		if appID == appA {
			return &wxnotify.TokenStatus{AppID: appID, Mode: wxnotify.TokenModeStable, HasToken: true, FetchedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour), Fetches: 3}, nil
		}
		return &wxnotify.TokenStatus{AppID: appID, Mode: wxnotify.TokenModeStable, HasToken: true, FetchedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(5 * time.Minute),
			LastError: "errcode 45009: reach max api daily quota limit", LastErrorAt: now.Add(-time.Minute)}, nil
	}}
	s.MessageService = b.messages
	s.BroadcastService = &mock.BroadcastService{FindBroadcastByIDFunc: func(_ context.Context, id int64) (*wxnotify.Broadcast, error) {
		if id != 3 {
			return nil, wxnotify.Errorf(wxnotify.ENOTFOUND, "no broadcast")
		}
		return &wxnotify.Broadcast{ID: 3, AppID: appA, Kind: wxnotify.MessageSubscribe, TemplateID: "TPL", Data: map[string]string{"thing1": "x"}, State: wxnotify.BroadcastAccepted, Accepted: 10, Total: 10, Pending: 4,
			Counts: map[wxnotify.MessageState]int64{wxnotify.MessageDelivered: 6, wxnotify.MessageQueued: 4}}, nil
	}}
	s.CreditService = &mock.CreditService{CreditStocksFunc: func(context.Context, wxnotify.CreditFilter) ([]*wxnotify.CreditStock, error) {
		return []*wxnotify.CreditStock{
			{AppID: appA, Kind: wxnotify.CreditSubscribe, TemplateID: "TPL", Credits: 5, Uses: 5},
			{AppID: appA, Kind: wxnotify.CreditPrepayID, Credits: 1, Uses: 3},
		}, nil
	}}
	s.Counts = func(context.Context) (map[string]int64, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		c := map[string]int64{}
		for k, v := range b.counts {
			c[k] = v
		}
		return c, nil
	}
	b.audit = &memAudit{}
	s.AuditService = b.audit
	s.HistoryService = historyFunc(func(ctx context.Context, rng string) (*wxnotify.History, error) {
		if rng != wxnotify.HistoryLastHour {
			return nil, wxnotify.FieldErrorf("range", "unknown range %q", rng)
		}
		return &wxnotify.History{Range: rng, ResolutionSeconds: 60, Buckets: []*wxnotify.HistoryBucket{
			{At: b.clock.Now().Truncate(time.Minute), Outcomes: map[string]int64{"delivered": 3}, Errcodes: map[string]int64{}}}}, nil
	})
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	b.srv, b.url = s, s.URL()
	return b
}

// dashClient is a browser-like client with a cookie jar.
func dashClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func dashDo(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var jsonPost = map[string]string{"Content-Type": "application/json", wxhttp.DashboardCSRFHeader: "1"}

func login(t *testing.T, c *http.Client, url, password string) *http.Response {
	t.Helper()
	resp, _ := dashDo(t, c, "POST", url+"/dashboard/login", fmt.Sprintf(`{"password":%q}`, password), jsonPost)
	return resp
}

func TestDashboard_Disabled(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t, "")
	c := dashClient(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/dashboard"}, {"GET", "/dashboard/"}, {"GET", "/dashboard/app.js"},
		{"GET", "/dashboard/api/messages"}, {"POST", "/dashboard/login"},
	} {
		resp, body := dashDo(t, c, r.method, b.url+r.path, `{"password":""}`, jsonPost)
		if resp.StatusCode != 404 || !strings.Contains(body, "dashboard disabled: set WXNOTIFY_ADMIN_PASSWORD") {
			t.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, body)
		}
	}
}

func TestDashboard_Static(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t, dashPassword)
	c := dashClient(t)
	resp, body := dashDo(t, c, "GET", b.url+"/dashboard", "", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("GET /dashboard: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = dashDo(t, c, "GET", b.url+"/dashboard/", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="app.js"`) {
		t.Fatalf("index: %d %.200s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP=%q", csp)
	}
	for _, f := range []string{"app.js", "style.css"} {
		if resp, _ := dashDo(t, c, "GET", b.url+"/dashboard/"+f, "", nil); resp.StatusCode != 200 {
			t.Errorf("%s: %d", f, resp.StatusCode)
		}
	}
	// The pages are public; their data is not.
	for _, p := range []string{"session", "apps", "queue", "credits", "messages", "messages/7", "broadcasts", "history", "audit", "schedules", "jobs", "templates", "nope"} {
		if resp, body := dashDo(t, c, "GET", b.url+"/dashboard/api/"+p, "", nil); resp.StatusCode != 401 {
			t.Errorf("api/%s without a session: %d %s", p, resp.StatusCode, body)
		}
	}
}

func TestDashboard_Login(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setupDashboard(t, dashPassword)
		c := dashClient(t)
		resp := login(t, c, b.url, dashPassword)
		if resp.StatusCode != 200 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies=%v", cookies)
		}
		ck := cookies[0]
		if ck.Name != wxhttp.DashboardCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || ck.Path != "/dashboard/" || len(ck.Value) < 40 {
			t.Fatalf("cookie %+v", ck)
		}
		if resp, body := dashDo(t, c, "GET", b.url+"/dashboard/api/session", "", nil); resp.StatusCode != 200 {
			t.Fatalf("session: %d %s", resp.StatusCode, body)
		}
		// A forged cookie is no session.
		forged := dashClient(t)
		req, _ := http.NewRequest("GET", b.url+"/dashboard/api/session", nil)
		req.AddCookie(&http.Cookie{Name: wxhttp.DashboardCookie, Value: ck.Value + "x"})
		if resp, err := forged.Do(req); err != nil || resp.StatusCode != 401 {
			t.Fatalf("forged cookie: %v %v", resp.StatusCode, err)
		}
		// Logout ends the session server-side, even for a copy of the cookie.
		if resp, _ := dashDo(t, c, "POST", b.url+"/dashboard/logout", "{}", jsonPost); resp.StatusCode != 204 {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		req, _ = http.NewRequest("GET", b.url+"/dashboard/api/session", nil)
		req.AddCookie(ck)
		if resp, err := forged.Do(req); err != nil || resp.StatusCode != 401 {
			t.Fatalf("after logout: %v %v", resp.StatusCode, err)
		}
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		t.Parallel()
		b := setupDashboard(t, dashPassword)
		c := dashClient(t)
		for _, pw := range []string{"", "operator-pass-123", dashPassword + " ", strings.ToUpper(dashPassword)} {
			if resp := login(t, c, b.url, pw); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
				t.Errorf("password %q: %d cookies=%v", pw, resp.StatusCode, resp.Cookies())
			}
		}
	})

	t.Run("ErrCSRF", func(t *testing.T) {
		t.Parallel()
		b := setupDashboard(t, dashPassword)
		c := dashClient(t)
		body := fmt.Sprintf(`{"password":%q}`, dashPassword)
		for _, tc := range []struct {
			name   string
			hdr    map[string]string
			status int
		}{
			{"NoHeader", map[string]string{"Content-Type": "application/json"}, 403},
			{"FormPost", map[string]string{"Content-Type": "application/x-www-form-urlencoded", wxhttp.DashboardCSRFHeader: "1"}, 400},
			{"CrossSite", map[string]string{"Content-Type": "application/json", wxhttp.DashboardCSRFHeader: "1", "Sec-Fetch-Site": "cross-site"}, 403},
			{"OtherOrigin", map[string]string{"Content-Type": "application/json", wxhttp.DashboardCSRFHeader: "1", "Origin": "https://evil.example"}, 403},
		} {
			resp, got := dashDo(t, c, "POST", b.url+"/dashboard/login", body, tc.hdr)
			if resp.StatusCode != tc.status || len(resp.Cookies()) != 0 {
				t.Errorf("%s: %d %s, want %d and no cookie", tc.name, resp.StatusCode, got, tc.status)
			}
		}
		// Logout is guarded too: a cross-site page cannot log the operator out.
		if resp := login(t, c, b.url, dashPassword); resp.StatusCode != 200 {
			t.Fatal("login")
		}
		if resp, _ := dashDo(t, c, "POST", b.url+"/dashboard/logout", "{}", map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 403 {
			t.Fatalf("logout without the header: %d", resp.StatusCode)
		}
		if resp, _ := dashDo(t, c, "GET", b.url+"/dashboard/api/session", "", nil); resp.StatusCode != 200 {
			t.Fatalf("session after refused logout: %d", resp.StatusCode)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		b := setupDashboard(t, dashPassword)
		c := dashClient(t)
		if resp := login(t, c, b.url, dashPassword); resp.StatusCode != 200 {
			t.Fatal("login")
		}
		b.clock.Add(wxhttp.DashboardSessionTTL - time.Second)
		if resp, _ := dashDo(t, c, "GET", b.url+"/dashboard/api/session", "", nil); resp.StatusCode != 200 {
			t.Fatalf("before expiry: %d", resp.StatusCode)
		}
		b.clock.Add(time.Second)
		if resp, _ := dashDo(t, c, "GET", b.url+"/dashboard/api/session", "", nil); resp.StatusCode != 401 {
			t.Fatalf("at expiry: %d", resp.StatusCode)
		}
	})

	t.Run("RateLimit", func(t *testing.T) {
		t.Parallel()
		b := setupDashboard(t, dashPassword) // the clock stands still: no refill
		c := dashClient(t)
		for range wxhttp.DashboardLoginBurst {
			if resp := login(t, c, b.url, "guess"); resp.StatusCode != 401 {
				t.Fatalf("guess: %d", resp.StatusCode)
			}
		}
		if resp := login(t, c, b.url, dashPassword); resp.StatusCode != 429 {
			t.Fatalf("after the burst: %d, want 429", resp.StatusCode)
		}
		b.clock.Add(time.Second)
		if resp := login(t, c, b.url, dashPassword); resp.StatusCode != 200 {
			t.Fatalf("a second later: %d", resp.StatusCode)
		}
	})

	t.Run("SecureOverTLS", func(t *testing.T) {
		t.Parallel()
		b := setupDashboard(t, dashPassword)
		ts := httptest.NewTLSServer(b.srv)
		t.Cleanup(ts.Close)
		c := ts.Client()
		resp := login(t, c, ts.URL, dashPassword)
		if resp.StatusCode != 200 || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
			t.Fatalf("login over TLS: %d %+v", resp.StatusCode, resp.Cookies())
		}
	})
}

// loggedIn returns a client with a live session.
func loggedIn(t *testing.T, b *dashBundle) *http.Client {
	t.Helper()
	c := dashClient(t)
	if resp := login(t, c, b.url, dashPassword); resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return c
}

func getDash(t *testing.T, c *http.Client, url string, out any) int {
	t.Helper()
	resp, body := dashDo(t, c, "GET", url, "", nil)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}
	return resp.StatusCode
}

func TestDashboard_API(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t, dashPassword)
	c := loggedIn(t, b)
	base := b.url + "/dashboard/api/"

	t.Run("Apps", func(t *testing.T) {
		resp, body := dashDo(t, c, "GET", base+"apps", "", nil)
		if resp.StatusCode != 200 || strings.Contains(body, "APP-SECRET") {
			t.Fatalf("apps: %d %s", resp.StatusCode, body)
		}
		var got struct {
			Apps []wxhttp.DashboardApp `json:"apps"`
		}
		json.Unmarshal([]byte(body), &got)
		if len(got.Apps) != 2 || got.Apps[0].Health != wxhttp.TokenHealthValid || got.Apps[1].Health != wxhttp.TokenHealthError {
			t.Fatalf("apps=%s", body)
		}
		if got.Apps[0].Token.Fetches != 3 {
			t.Fatalf("token status not passed on: %+v", got.Apps[0].Token)
		}
	})

	t.Run("Messages", func(t *testing.T) {
		var got struct {
			Messages []*wxnotify.Message `json:"messages"`
		}
		if code := getDash(t, c, base+"messages?appid="+appB+"&state=failed&openid=oUSER6&limit=50&before=9", &got); code != 200 || len(got.Messages) != 2 {
			t.Fatalf("messages: %d %+v", code, got)
		}
		b.messages.mu.Lock()
		f, k := b.messages.filter, b.messages.key
		b.messages.mu.Unlock()
		if f.AppID == nil || *f.AppID != appB || f.State == nil || *f.State != wxnotify.MessageFailed || f.OpenID == nil || *f.OpenID != "oUSER6" || f.Limit != 50 || f.AfterID != 9 {
			t.Fatalf("filter %+v", f)
		}
		if k == nil || !k.CanAccess(appA) || !k.CanAccess(appB) {
			t.Fatalf("the dashboard must act with an all-apps key, got %+v", k)
		}
		for _, q := range []string{"state=bogus", "limit=0", "limit=x", "before=-1"} {
			if code := getDash(t, c, base+"messages?"+q, nil); code != 400 {
				t.Errorf("%s: %d, want 400", q, code)
			}
		}
	})

	t.Run("Message", func(t *testing.T) {
		var got struct {
			Message  wxnotify.Message    `json:"message"`
			Attempts []*wxnotify.Attempt `json:"attempts"`
		}
		if code := getDash(t, c, base+"messages/7", &got); code != 200 || got.Message.ID != 7 || len(got.Attempts) != 1 || got.Attempts[0].LatencyMS != 12.5 {
			t.Fatalf("message: %d %+v", code, got)
		}
		if code := getDash(t, c, base+"messages/6", &got); code != 200 || got.Attempts == nil {
			t.Fatalf("message without attempts: %d %+v", code, got.Attempts)
		}
		if code := getDash(t, c, base+"messages/99", nil); code != 404 {
			t.Fatalf("unknown message: %d", code)
		}
		if code := getDash(t, c, base+"messages/x", nil); code != 400 {
			t.Fatalf("bad id: %d", code)
		}
	})

	t.Run("Broadcasts", func(t *testing.T) {
		var got struct {
			Broadcasts []*wxnotify.Broadcast `json:"broadcasts"`
		}
		if code := getDash(t, c, base+"broadcasts", &got); code != 200 || len(got.Broadcasts) != 1 || got.Broadcasts[0].Pending != 4 {
			t.Fatalf("recent broadcasts: %d %+v", code, got)
		}
		if code := getDash(t, c, base+"broadcasts?id=3,8", &got); code != 200 || len(got.Broadcasts) != 1 {
			t.Fatalf("by id: %d %+v", code, got)
		}
		if code := getDash(t, c, base+"broadcasts?id=3,x", nil); code != 400 {
			t.Fatalf("bad id: %d", code)
		}
	})

	t.Run("CreditsAndQueue", func(t *testing.T) {
		var stocks struct {
			Stocks []*wxnotify.CreditStock `json:"stocks"`
		}
		if code := getDash(t, c, base+"credits", &stocks); code != 200 || len(stocks.Stocks) != 2 {
			t.Fatalf("credits: %d %+v", code, stocks)
		}
		var q wxhttp.DashboardQueue
		if code := getDash(t, c, base+"queue", &q); code != 200 || q.Counts == nil {
			t.Fatalf("queue: %d %+v", code, q)
		}
	})
}

func TestDashboard_HistoryAndActions(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t, dashPassword)
	c := loggedIn(t, b)
	var h wxnotify.History
	if code := getDash(t, c, b.url+"/dashboard/api/history", &h); code != 200 || h.ResolutionSeconds != 60 || h.Buckets[0].Outcomes["delivered"] != 3 {
		t.Fatalf("history: %d %+v", code, h)
	}
	if code := getDash(t, c, b.url+"/dashboard/api/history?range=7d", nil); code != 400 {
		t.Fatalf("unknown range: %d", code)
	}
	// An action needs the CSRF header, and is audited with the dashboard
	// as the actor.
	if resp, _ := dashDo(t, c, "POST", b.url+"/dashboard/api/messages/6/retry", `{}`, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 403 {
		t.Fatalf("retry without the CSRF header: %d", resp.StatusCode)
	}
	if len(b.audit.entries) != 0 {
		t.Fatalf("a refused action was audited: %+v", b.audit.entries)
	}
	if resp, body := dashDo(t, c, "POST", b.url+"/dashboard/api/messages/6/retry", `{}`, jsonPost); resp.StatusCode != 200 {
		t.Fatalf("retry: %d %s", resp.StatusCode, body)
	}
	var list wxnotify.AuditList
	if code := getDash(t, c, b.url+"/dashboard/api/audit", &list); code != 200 || len(list.Entries) != 1 {
		t.Fatalf("audit: %d %+v", code, list)
	}
	if e := list.Entries[0]; e.Action != wxnotify.AuditMessageRetry || e.Target != "message 6" || e.Actor != "dashboard (127.0.0.1)" ||
		e.Detail != "failed → queued" || e.AppID != appB {
		t.Fatalf("audit entry %+v", e)
	}
	if code := getDash(t, c, b.url+"/dashboard/api/audit?action=bogus", nil); code != 400 {
		t.Fatalf("unknown action filter: %d", code)
	}
}

// memAudit is an in-memory wxnotify.AuditService.
type memAudit struct {
	mu      sync.Mutex
	entries []*wxnotify.AuditEntry
}

func (a *memAudit) RecordAudit(_ context.Context, e *wxnotify.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e.ID = int64(len(a.entries) + 1)
	a.entries = append([]*wxnotify.AuditEntry{e}, a.entries...)
	return nil
}

func (a *memAudit) FindAuditEntries(context.Context, wxnotify.AuditFilter) ([]*wxnotify.AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.entries, nil
}

// historyFunc is a wxnotify.HistoryService.
type historyFunc func(ctx context.Context, rng string) (*wxnotify.History, error)

func (f historyFunc) FindHistory(ctx context.Context, rng string) (*wxnotify.History, error) {
	return f(ctx, rng)
}
