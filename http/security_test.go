package http_test

// Security properties of the HTTP surface (docs/security.md), checked on a
// real Server wired to the real services over a real database (SQLite, and
// PostgreSQL when WXNOTIFY_TEST_POSTGRES is set) and the WeChat simulator.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/catalog"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/ledger"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/session"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/webhook"
	"github.com/wxnotify/wxnotify/wechat"
	"github.com/wxnotify/wxnotify/wechatsim"
)

const (
	secSecretA  = "secret-of-app-A-0123456789"
	secSecretB  = "secret-of-app-B-0123456789"
	secCBToken  = "pushTokenA123"
	secPassword = "operator-password-0123"
)

// secBundle is a Server with every real service over one database: key
// keyA may act for app A only, keyB for app B only.
type secBundle struct {
	url        string
	keyA, keyB string
	sim        *wechatsim.Server
	credits    *ledger.Service
	logs       *syncBuffer
}

func setupSecurity(t *testing.T, engine testdb.Engine) *secBundle {
	t.Helper()
	ctx := context.Background()
	sim := wechatsim.New(wechatsim.Options{})
	sim.AddApp(wechatsim.App{AppID: appA, Secret: secSecretA})
	sim.AddApp(wechatsim.App{AppID: appB, Secret: secSecretB})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	st := engine.NewDB(t)(t)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	apps := &token.AppService{Store: st, Box: box}
	for id, secret := range map[string]string{appA: secSecretA, appB: secSecretB} {
		if err := apps.CreateApp(ctx, &wxnotify.App{AppID: id, Secret: wxnotify.Secret(secret)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := apps.SetCallbackConfig(ctx, &wxnotify.CallbackConfig{AppID: appA, Token: secCBToken, Mode: wxnotify.CallbackPlain}); err != nil {
		t.Fatal(err)
	}
	keys := &apikey.Service{Store: st}
	b := &secBundle{sim: sim, logs: &syncBuffer{}}
	var err error
	if b.keyA, err = keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "svc-a", Apps: []string{appA}}); err != nil {
		t.Fatal(err)
	}
	if b.keyB, err = keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "svc-b", Apps: []string{appB}}); err != nil {
		t.Fatal(err)
	}
	client := wechat.New(wechat.Options{BaseURL: simSrv.URL})
	tokens := &token.Service{Store: st, Box: box, Fetcher: token.WeChatFetcher{Client: client}}
	msgs := &delivery.Service{Queue: queue.New(st), Store: st, Apps: apps}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	msgs.Start(wctx)
	b.credits = &ledger.Service{Store: st}

	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.Logger = slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.AppService = apps
	s.APIKeyService = keys
	s.TokenService = tokens
	s.MessageService = msgs
	s.BroadcastService = &delivery.BroadcastService{Store: st, Messages: msgs, Chunk: 100}
	s.ScheduleService = &delivery.ScheduleService{Store: st}
	s.WebhookService = &webhook.Service{Store: st, Box: box}
	s.TemplateService = &catalog.Service{Store: st, Queue: queue.New(st), Client: client, Tokens: tokens}
	s.SessionService = &session.Service{Store: st, Box: box, Secrets: apps, WeChat: client}
	s.CreditService = b.credits
	s.EventService = b.credits
	s.CallbackConfigs = apps
	s.DashboardPassword = secPassword
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	b.url = s.URL()
	return b
}

// call sends a request and returns the status and body; auth is a bearer
// credential or "".
func (b *secBundle) call(t *testing.T, method, path, auth, body string) (int, string) {
	t.Helper()
	resp, got := do(t, method, b.url+path, auth, body)
	return resp.StatusCode, got
}

// want checks the status and, for an error, that the body is the JSON error
// with the given code.
func (b *secBundle) want(t *testing.T, method, path, auth, body string, status int) string {
	t.Helper()
	got, out := b.call(t, method, path, auth, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, status, out)
	}
	if status >= 400 {
		var e wxnotify.ErrorResponse
		if err := json.Unmarshal([]byte(out), &e); err != nil || e.Error.Code != wxnotify.ErrorCodeFromStatus(status) {
			t.Fatalf("%s %s: error body %s, want a JSON error with code %s", method, path, out, wxnotify.ErrorCodeFromStatus(status))
		}
	}
	return out
}

func (b *secBundle) stocks(t *testing.T, appID, openID string) int64 {
	t.Helper()
	list, err := b.credits.CreditStocks(context.Background(), wxnotify.CreditFilter{AppID: &appID, OpenID: &openID})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, s := range list {
		n += s.Credits
	}
	return n
}

func idOf(t *testing.T, body string) int64 {
	t.Helper()
	var v struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.ID == 0 {
		t.Fatalf("no id in %s", body)
	}
	return v.ID
}

func messageBody(appID, openID string) string {
	return fmt.Sprintf(`{"appid":%q,"openid":%q,"template_id":"TPL_B","data":{"thing1":"hello"}}`, appID, openID)
}

// TestSecurity_CrossApp: an API key for app A can do nothing to or with app
// B: not send as it, read its token, see or cancel its messages, read its
// credits, or create, see or change its schedules, webhooks, broadcasts and
// templates. What it is refused leaves B's state as it was.
func TestSecurity_CrossApp(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			b := setupSecurity(t, engine)
			ctx := context.Background()
			A, B := b.keyA, b.keyB

			// B's own objects, made with B's key.
			msgB := idOf(t, b.want(t, "POST", "/v1/messages", B, messageBody(appB, "oB1"), 202))
			schedB := idOf(t, b.want(t, "POST", "/v1/schedules", B, fmt.Sprintf(
				`{"appid":%q,"name":"daily","cron":"0 9 * * *","message":{"openid":"oB1","template_id":"TPL_B","data":{"thing1":"hi"}}}`, appB), 201))
			hookB := idOf(t, b.want(t, "POST", "/v1/webhooks", B, fmt.Sprintf(`{"appid":%q,"url":"https://b.example/hook"}`, appB), 201))
			bcB := idOf(t, b.want(t, "POST", "/v1/broadcasts", B, fmt.Sprintf(
				`{"appid":%q,"template_id":"TPL_B","data":{"thing1":"hi"},"recipients":["oB2","oB3"]}`, appB), 202))
			if _, err := b.credits.AddFormIDs(ctx, appB, "oB1", wxnotify.CreditFormID, []string{"formid-of-B-user-0001"}, "test"); err != nil {
				t.Fatal(err)
			}

			// Sending as B, in every form: 403, nothing stored.
			b.want(t, "POST", "/v1/messages", A, messageBody(appB, "oB9"), 403)
			b.want(t, "POST", "/v1/broadcasts", A, fmt.Sprintf(`{"appid":%q,"template_id":"TPL_B","data":{"thing1":"x"},"recipients":["oB9"]}`, appB), 403)
			resp, out := doType(t, "POST", b.url+"/v1/broadcasts", A, "application/x-ndjson",
				strings.NewReader(fmt.Sprintf(`{"appid":%q,"template_id":"TPL_B","data":{"thing1":"x"}}`+"\n"+`"oB9"`+"\n", appB)))
			if resp.StatusCode != 403 {
				t.Fatalf("NDJSON broadcast as B: %d %s", resp.StatusCode, out)
			}
			b.want(t, "POST", "/v1/schedules", A, fmt.Sprintf(
				`{"appid":%q,"name":"x","cron":"* * * * *","message":{"openid":"oB9","template_id":"TPL_B","data":{"thing1":"x"}}}`, appB), 403)
			b.want(t, "POST", "/v1/webhooks", A, fmt.Sprintf(`{"appid":%q,"url":"https://a.example/steal"}`, appB), 403)

			// B's token: never fetched, never shown.
			b.want(t, "GET", "/v1/apps/"+appB+"/access_token", A, "", 403)
			b.want(t, "POST", "/v1/apps/"+appB+"/access_token/invalidate", A, `{"access_token":"x"}`, 403)
			b.want(t, "GET", "/v1/apps/"+appB+"/token_status", A, "", 403)
			if n := b.sim.Calls("/cgi-bin/stable_token", appB) + b.sim.Calls("/cgi-bin/token", appB); n != 0 {
				t.Fatalf("WeChat asked for B's token %d times on A's requests", n)
			}

			// B's messages: not found, not listed, not cancelled.
			b.want(t, "GET", "/v1/messages/"+strconv.FormatInt(msgB, 10), A, "", 404)
			b.want(t, "POST", "/v1/messages/"+strconv.FormatInt(msgB, 10)+"/cancel", A, "", 404)
			b.want(t, "GET", "/v1/messages?appid="+appB, A, "", 403)
			for _, q := range []string{"", "?openid=oB1", "?broadcast_id=" + strconv.FormatInt(bcB, 10), "?state=queued"} {
				var list wxnotify.MessageList
				if err := json.Unmarshal([]byte(b.want(t, "GET", "/v1/messages"+q, A, "", 200)), &list); err != nil {
					t.Fatal(err)
				}
				for _, m := range list.Messages {
					if m.AppID != appA {
						t.Fatalf("GET /v1/messages%s with A's key lists a message of %s", q, m.AppID)
					}
				}
			}
			var m wxnotify.Message
			json.Unmarshal([]byte(b.want(t, "GET", "/v1/messages/"+strconv.FormatInt(msgB, 10), B, "", 200)), &m)
			if m.State == wxnotify.MessageCancelled {
				t.Fatal("A's key cancelled B's message")
			}

			// B's credits.
			b.want(t, "GET", "/v1/apps/"+appB+"/credits/stats", A, "", 403)
			b.want(t, "GET", "/v1/apps/"+appB+"/credits/stats?openid=oB1", A, "", 403)
			b.want(t, "POST", "/v1/apps/"+appB+"/credits", A, `{"openid":"oB1","kind":"prepay_id","values":["wx2026prepay"]}`, 403)

			// B's schedules, webhooks, broadcasts.
			sp := "/v1/schedules/" + strconv.FormatInt(schedB, 10)
			b.want(t, "GET", sp, A, "", 404)
			b.want(t, "POST", sp+"/pause", A, "", 404)
			b.want(t, "POST", sp+"/resume", A, "", 404)
			b.want(t, "DELETE", sp, A, "", 404)
			if out := b.want(t, "GET", "/v1/schedules", A, "", 200); strings.Contains(out, appB) {
				t.Fatalf("A's schedule list shows B's: %s", out)
			}
			var sc wxnotify.Schedule
			json.Unmarshal([]byte(b.want(t, "GET", sp, B, "", 200)), &sc)
			if sc.State != wxnotify.ScheduleActive {
				t.Fatalf("B's schedule is %s after A's attempts", sc.State)
			}
			b.want(t, "DELETE", "/v1/webhooks/"+strconv.FormatInt(hookB, 10), A, "", 404)
			if out := b.want(t, "GET", "/v1/webhooks", A, "", 200); strings.Contains(out, appB) {
				t.Fatalf("A's webhook list shows B's: %s", out)
			}
			if out := b.want(t, "GET", "/v1/webhooks", B, "", 200); !strings.Contains(out, "https://b.example/hook") || strings.Contains(out, "a.example") {
				t.Fatalf("B's webhooks after A's attempts: %s", out)
			}
			b.want(t, "GET", "/v1/broadcasts/"+strconv.FormatInt(bcB, 10), A, "", 404)

			// B's templates.
			tb := "/v1/apps/" + appB
			b.want(t, "GET", tb+"/templates", A, "", 403)
			b.want(t, "POST", tb+"/templates", A, `{"tid":"1","kid_list":[1],"scene_desc":"x"}`, 403)
			b.want(t, "POST", tb+"/templates/sync", A, "", 403)
			b.want(t, "GET", tb+"/templates/TPL_B", A, "", 403)
			b.want(t, "DELETE", tb+"/templates/TPL_B", A, "", 403)
			b.want(t, "PUT", tb+"/templates/TPL_B/truncate", A, `{"keys":["thing1"]}`, 403)
			b.want(t, "PUT", tb+"/template_aliases/x", A, `{"template_id":"TPL_B"}`, 403)
			b.want(t, "DELETE", tb+"/template_aliases/x", A, "", 403)
			b.want(t, "GET", tb+"/template_library", A, "", 403)
			b.want(t, "GET", tb+"/template_library/categories", A, "", 403)
			b.want(t, "GET", tb+"/template_library/1", A, "", 403)

			// Nothing of A's attempts reached B.
			var list wxnotify.MessageList
			json.Unmarshal([]byte(b.want(t, "GET", "/v1/messages?openid=oB9", B, "", 200)), &list)
			if len(list.Messages) != 0 {
				t.Fatalf("A's refused sends stored %d messages for B", len(list.Messages))
			}
			if n := b.stocks(t, appB, "oB1"); n != 1 {
				t.Fatalf("B's user has %d credits, want 1", n)
			}

			// Credentials are not interchangeable: a session is no API key,
			// an API key no session, and neither opens the dashboard.
			code := b.sim.MintLoginCode(appA, "oA1")
			var login wxhttp.LoginResponse
			json.Unmarshal([]byte(b.want(t, "POST", "/mp/v1/apps/"+appA+"/login", "", fmt.Sprintf(`{"code":%q}`, code), 200)), &login)
			b.want(t, "GET", "/v1/messages", login.SessionToken, "", 401)
			b.want(t, "GET", "/v1/apps/"+appA+"/access_token", login.SessionToken, "", 401)
			b.want(t, "GET", "/mp/v1/apps/"+appA+"/credits", A, "", 401)
			b.want(t, "GET", "/dashboard/api/apps", A, "", 401)
			b.want(t, "GET", "/dashboard/api/apps", login.SessionToken, "", 401)
		})
	}
}

// TestSecurity_CrossUser: a mini-program session acts for its own user of
// its own app only. A body that names a user is refused before anything is
// read, and a session of app A is refused on app B's paths.
func TestSecurity_CrossUser(t *testing.T) {
	t.Parallel()
	for _, engine := range testdb.Engines(t) {
		t.Run(engine.Name, func(t *testing.T) {
			t.Parallel()
			b := setupSecurity(t, engine)
			mpA, mpB := "/mp/v1/apps/"+appA, "/mp/v1/apps/"+appB
			code := b.sim.MintLoginCode(appA, "oUserA")
			out := b.want(t, "POST", mpA+"/login", "", fmt.Sprintf(`{"code":%q}`, code), 200)
			if strings.Contains(out, "oUserA") || strings.Contains(out, "session_key") {
				t.Fatalf("login answer carries the openid or session_key: %s", out)
			}
			var login wxhttp.LoginResponse
			json.Unmarshal([]byte(out), &login)
			sess := login.SessionToken

			// A body naming any user, in any spelling, adds nothing.
			for _, f := range []string{"openid", "OpenID", "open_id", "touser", "toUser", "unionid", "union_id"} {
				body := fmt.Sprintf(`{"form_ids":["form-for-B-0001"],%q:"oUserB"}`, f)
				b.want(t, "POST", mpA+"/form_ids", sess, body, 400)
				b.want(t, "POST", mpA+"/subscriptions", sess, fmt.Sprintf(`{"TPL1":"accept",%q:"oUserB"}`, f), 400)
			}
			b.want(t, "POST", mpA+"/form_ids", sess, `{"form_ids":["form-for-B-0001"],"user":{"openid":"oUserB"}}`, 400)
			if n := b.stocks(t, appA, "oUserB"); n != 0 {
				t.Fatalf("user B got %d credits from A's session", n)
			}
			if n := b.stocks(t, appA, "oUserA"); n != 0 {
				t.Fatalf("refused reports stored %d credits", n)
			}

			// A's session on B's paths: 403, nothing stored for anyone of B.
			b.want(t, "POST", mpB+"/form_ids", sess, `{"form_ids":["form-0002"]}`, 403)
			b.want(t, "POST", mpB+"/subscriptions", sess, `{"TPL1":"accept"}`, 403)
			b.want(t, "GET", mpB+"/credits", sess, "", 403)
			if n := b.stocks(t, appB, "oUserA"); n != 0 {
				t.Fatalf("A's session added %d credits under app B", n)
			}

			// What the session may do lands on its own user.
			b.want(t, "POST", mpA+"/form_ids", sess, `{"form_ids":["form-0003"]}`, 200)
			if n := b.stocks(t, appA, "oUserA"); n != 1 {
				t.Fatalf("own report: %d credits, want 1", n)
			}
			b.want(t, "POST", mpA+"/form_ids", "wxs_forged-token-000000000000000000000000000", `{"form_ids":["form-0004"]}`, 401)
		})
	}
}

// TestSecurity_BodyLimits: a body over a route's limit is refused with a
// JSON error and stores nothing.
func TestSecurity_BodyLimits(t *testing.T) {
	t.Parallel()
	b := setupSecurity(t, testdb.Engine{Name: "sqlite", NewDB: testdb.NewSQLiteDB})
	A := b.keyA
	over := func(limit int64) string { return strings.Repeat("x", int(limit)+1) }
	api := over(wxhttp.DefaultMaxBodyBytes)

	for _, tc := range []struct {
		name, method, path, auth, body string
	}{
		{"message", "POST", "/v1/messages", A, fmt.Sprintf(`{"appid":%q,"openid":"oBig","template_id":"T","data":{"thing1":%q}}`, appA, api)},
		{"schedule", "POST", "/v1/schedules", A, fmt.Sprintf(`{"appid":%q,"name":%q,"cron":"0 9 * * *","message":{"openid":"oBig","template_id":"T","data":{"thing1":"x"}}}`, appA, api)},
		{"webhook", "POST", "/v1/webhooks", A, fmt.Sprintf(`{"appid":%q,"url":"https://a.example/%s"}`, appA, api)},
		{"invalidate", "POST", "/v1/apps/" + appA + "/access_token/invalidate", A, fmt.Sprintf(`{"access_token":%q}`, api)},
		{"template alias", "PUT", "/v1/apps/" + appA + "/template_aliases/big", A, fmt.Sprintf(`{"template_id":%q}`, api)},
		{"mp login", "POST", "/mp/v1/apps/" + appA + "/login", "", fmt.Sprintf(`{"code":%q}`, over(wxhttp.MiniProgramMaxBodyBytes))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := b.want(t, tc.method, tc.path, tc.auth, tc.body, 400)
			if !strings.Contains(out, "larger than") {
				t.Fatalf("answer %s does not say the body is too large", out)
			}
		})
	}

	// Mini-program reports: refused whole.
	code := b.sim.MintLoginCode(appA, "oBig")
	var login wxhttp.LoginResponse
	json.Unmarshal([]byte(b.want(t, "POST", "/mp/v1/apps/"+appA+"/login", "", fmt.Sprintf(`{"code":%q}`, code), 200)), &login)
	ids := make([]string, 0, 200)
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("%0100d", i)) // 200 × 100 bytes > 16 KiB
	}
	big, _ := json.Marshal(map[string][]string{"form_ids": ids})
	b.want(t, "POST", "/mp/v1/apps/"+appA+"/form_ids", login.SessionToken, string(big), 400)
	b.want(t, "POST", "/mp/v1/apps/"+appA+"/subscriptions", login.SessionToken, fmt.Sprintf(`{"TPL1":"accept","errMsg":%q}`, over(wxhttp.MiniProgramMaxBodyBytes)), 400)
	if n := b.stocks(t, appA, "oBig"); n != 0 {
		t.Fatalf("oversized reports stored %d credits", n)
	}

	// The WeChat callback: 64 KiB, checked before the body is parsed.
	q := url.Values{"timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "nonce": {"n1"}}
	q.Set("signature", wechatsim.Signature(secCBToken, q.Get("timestamp"), q.Get("nonce")))
	push := "<xml>" + over(wechat.MaxPushBodySize) + "</xml>"
	b.want(t, "POST", "/wechat/callback/"+appA+"?"+q.Encode(), "", push, 400)

	// The dashboard login.
	req, _ := http.NewRequest("POST", b.url+"/dashboard/login", strings.NewReader(fmt.Sprintf(`{"password":%q}`, api)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wxhttp.DashboardCSRFHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("oversized dashboard login: %d, cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}

	// Nothing was stored, and nothing of the bodies reached the log.
	var list wxnotify.MessageList
	json.Unmarshal([]byte(b.want(t, "GET", "/v1/messages?openid=oBig", A, "", 200)), &list)
	if len(list.Messages) != 0 {
		t.Fatalf("oversized message stored: %+v", list.Messages)
	}
	if out := b.want(t, "GET", "/v1/schedules", A, "", 200); strings.Contains(out, "oBig") {
		t.Fatalf("oversized schedule stored: %s", out)
	}
	if out := b.want(t, "GET", "/v1/webhooks", A, "", 200); strings.Contains(out, "a.example") {
		t.Fatalf("oversized webhook stored: %s", out)
	}
	if strings.Contains(b.logs.String(), "xxxxxxxxxxxxxxxx") {
		t.Fatal("a request body reached the log")
	}
}

// TestSecurity_EveryRouteAuthenticated classifies every route the Server
// registers by the credential it needs, and checks that a request without
// that credential is refused: a new route fails this test until it is
// classified here and in docs/security.md.
func TestSecurity_EveryRouteAuthenticated(t *testing.T) {
	t.Parallel()
	b := setupSecurity(t, testdb.Engine{Name: "sqlite", NewDB: testdb.NewSQLiteDB})
	const (
		apiKey    = "API key"
		mpSession = "mini-program session"
		signature = "WeChat signature"
		dashboard = "dashboard session"
		public    = "none"
	)
	auth := map[string]string{
		"GET /healthz":                                     public,
		"GET /readyz":                                      public,
		"GET /metrics":                                     public,
		"GET /openapi.json":                                public,
		"/":                                                public,
		"GET /dashboard":                                   public,
		"GET /dashboard/":                                  public,
		"POST /dashboard/login":                            public, // the password is the credential
		"POST /dashboard/logout":                           public,
		"POST /mp/v1/apps/{appid}/login":                   public, // the wx.login code is the credential
		"GET /wechat/callback/{appid}":                     signature,
		"POST /wechat/callback/{appid}":                    signature,
		"POST /mp/v1/apps/{appid}/form_ids":                mpSession,
		"POST /mp/v1/apps/{appid}/subscriptions":           mpSession,
		"GET /mp/v1/apps/{appid}/credits":                  mpSession,
		"GET /dashboard/api/":                              dashboard,
		"GET /dashboard/api/session":                       dashboard,
		"GET /dashboard/api/apps":                          dashboard,
		"GET /dashboard/api/queue":                         dashboard,
		"GET /dashboard/api/credits":                       dashboard,
		"GET /dashboard/api/messages":                      dashboard,
		"GET /dashboard/api/messages/{id}":                 dashboard,
		"GET /dashboard/api/broadcasts":                    dashboard,
		"GET /dashboard/api/history":                       dashboard,
		"GET /dashboard/api/audit":                         dashboard,
		"GET /dashboard/api/schedules":                     dashboard,
		"GET /dashboard/api/jobs":                          dashboard,
		"GET /dashboard/api/templates":                     dashboard,
		"POST /dashboard/api/messages/{id}/cancel":         dashboard,
		"POST /dashboard/api/messages/{id}/retry":          dashboard,
		"POST /dashboard/api/schedules/{id}/pause":         dashboard,
		"POST /dashboard/api/schedules/{id}/resume":        dashboard,
		"POST /dashboard/api/schedules/{id}/delete":        dashboard,
		"POST /dashboard/api/apps/{appid}/token/refresh":   dashboard,
		"POST /dashboard/api/apps/{appid}/templates/sync":  dashboard,
		"GET /v1/apps/{appid}/access_token":                apiKey,
		"POST /v1/apps/{appid}/access_token/invalidate":    apiKey,
		"GET /v1/apps/{appid}/token_status":                apiKey,
		"POST /v1/messages":                                apiKey,
		"GET /v1/messages":                                 apiKey,
		"GET /v1/messages/{id}":                            apiKey,
		"POST /v1/messages/{id}/cancel":                    apiKey,
		"POST /v1/messages/{id}/retry":                     apiKey,
		"POST /v1/apps/{appid}/access_token/refresh":       apiKey,
		"GET /v1/audit":                                    apiKey,
		"POST /v1/broadcasts":                              apiKey,
		"GET /v1/broadcasts/{id}":                          apiKey,
		"GET /v1/broadcasts":                               apiKey,
		"POST /v1/schedules":                               apiKey,
		"GET /v1/schedules":                                apiKey,
		"GET /v1/schedules/{id}":                           apiKey,
		"POST /v1/schedules/{id}/pause":                    apiKey,
		"POST /v1/schedules/{id}/resume":                   apiKey,
		"DELETE /v1/schedules/{id}":                        apiKey,
		"POST /v1/webhooks":                                apiKey,
		"GET /v1/webhooks":                                 apiKey,
		"GET /v1/jobs":                                     apiKey,
		"DELETE /v1/webhooks/{id}":                         apiKey,
		"GET /v1/webhooks/{id}/deliveries":                 apiKey,
		"POST /v1/webhooks/{id}/deliveries/replay":         apiKey,
		"GET /v1/apps/{appid}/credits/stats":               apiKey,
		"POST /v1/apps/{appid}/credits":                    apiKey,
		"GET /v1/apps/{appid}/templates":                   apiKey,
		"POST /v1/apps/{appid}/templates":                  apiKey,
		"POST /v1/apps/{appid}/templates/sync":             apiKey,
		"GET /v1/apps/{appid}/templates/{id}":              apiKey,
		"DELETE /v1/apps/{appid}/templates/{id}":           apiKey,
		"PUT /v1/apps/{appid}/templates/{id}/truncate":     apiKey,
		"PUT /v1/apps/{appid}/template_aliases/{alias}":    apiKey,
		"DELETE /v1/apps/{appid}/template_aliases/{alias}": apiKey,
		"GET /v1/apps/{appid}/template_library":            apiKey,
		"GET /v1/apps/{appid}/template_library/categories": apiKey,
		"GET /v1/apps/{appid}/template_library/{tid}":      apiKey,
	}
	fill := strings.NewReplacer("{appid}", appA, "{id}", "1", "{alias}", "x", "{tid}", "1")
	for _, route := range wxhttp.NewServer().Routes() {
		kind, ok := auth[route]
		if !ok {
			t.Errorf("route %q is not classified: add it here and to docs/security.md", route)
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		if path == "" {
			continue // the catch-all
		}
		path = fill.Replace(path)
		switch kind {
		case apiKey:
			for _, cred := range []string{"", "wxk_forged_key", "wxs_not-an-api-key"} {
				if got, out := b.call(t, method, path, cred, "{}"); got != 401 {
					t.Errorf("%s with credential %q: %d, want 401; %s", route, cred, got, out)
				}
			}
		case mpSession:
			for _, cred := range []string{"", "wxs_forged", b.keyA} {
				if got, out := b.call(t, method, path, cred, "{}"); got != 401 {
					t.Errorf("%s with credential %q: %d, want 401; %s", route, cred, got, out)
				}
			}
		case dashboard:
			for _, cred := range []string{"", b.keyA} {
				if got, out := b.call(t, method, path, cred, ""); got != 401 {
					t.Errorf("%s with credential %q: %d, want 401; %s", route, cred, got, out)
				}
			}
		case signature:
			q := "?timestamp=" + strconv.FormatInt(time.Now().Unix(), 10) + "&nonce=n&signature=0000&echostr=e"
			if got, out := b.call(t, method, path+q, "", "<xml></xml>"); got != 401 {
				t.Errorf("%s with a wrong signature: %d, want 401; %s", route, got, out)
			}
		}
	}
}
