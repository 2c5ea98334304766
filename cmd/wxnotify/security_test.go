package main_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// wechatRecorder sits between wxnotify and the simulator and remembers
// every access_token and session_key WeChat hands out, so the test knows
// every secret value that could leak.
type wechatRecorder struct {
	target string
	mu     sync.Mutex
	seen   map[string]string // value → what it is
}

func (rec *wechatRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, rec.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var fields map[string]any
	if json.Unmarshal(out, &fields) == nil {
		rec.mu.Lock()
		for _, k := range []string{"access_token", "session_key"} {
			if v, ok := fields[k].(string); ok && v != "" {
				rec.seen[v] = k
			}
		}
		rec.mu.Unlock()
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

func (rec *wechatRecorder) secrets() map[string]string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := make(map[string]string, len(rec.seen))
	for k, v := range rec.seen {
		out[k] = v
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func randomAlnum(n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// TestE2E_NoSecretsInLogs runs the product end to end with the real binary
// (serve and sim, logging at debug): login, form_ids (one WeChat refuses),
// subscriptions from the page and from a safe-mode push, subscribe and
// legacy sends, the token endpoint and its invalidation, refused cross-app
// and cross-user requests. Then the combined logs of both processes must
// hold none of: the app secrets, the push Token and EncodingAESKey, the API
// keys, the session token, any access_token or session_key WeChat issued,
// and any full form_id.
func TestE2E_NoSecretsInLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"))
	port := freePort(t)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--log-level", "debug")
	const otherSecret = "e2e-other-secret-0123456789"
	cbToken, aesKey := randomAlnum(32), randomAlnum(43)
	simCtl(t, sim.url, "/apps", map[string]any{"appid": demoApp, "secret": demoSecret,
		"callback_url":   "http://127.0.0.1:" + port + "/wechat/callback/" + demoApp,
		"callback_token": cbToken, "encoding_aes_key": aesKey, "safe_mode": true})
	simCtl(t, sim.url, "/apps", map[string]any{"appid": otherApp, "secret": otherSecret})
	rec := &wechatRecorder{target: sim.url, seen: map[string]string{}}
	proxy := httptest.NewServer(rec)
	t.Cleanup(proxy.Close)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+proxy.URL)

	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	e.mustRun(otherSecret+"\n", "app", "add", otherApp)
	e.mustRun(cbToken+"\n"+aesKey+"\n", "app", "callback", demoApp)
	key := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))
	otherKey := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "other", "--app", otherApp))
	serve := e.start("serve", "--addr", "127.0.0.1:"+port, "--log-level", "debug")
	api := serve.url

	tpl := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	legacy := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "订单通知", "legacy": true,
		"keywords": []map[string]string{{"name": "单号"}}})["template_id"].(string)

	// The page logs in and reports credits.
	const userA, userB = "oSECUSERA00000000001", "oSECUSERB00000000002"
	code := simCtl(t, sim.url, "/login_codes", map[string]string{"appid": demoApp, "openid": userA})["code"].(string)
	var login struct {
		SessionToken string `json:"session_token"`
	}
	mp := api + "/mp/v1/apps/" + demoApp
	if status := getJSON(t, "POST", mp+"/login", "", fmt.Sprintf(`{"code":%q}`, code), &login); status != 200 {
		t.Fatalf("login: %d", status)
	}
	sess := login.SessionToken
	good := simCtl(t, sim.url, "/form_ids", map[string]string{"appid": demoApp, "openid": userA})["form_id"].(string)
	// Minted for B: WeChat refuses it when A is sent with it (41028).
	foreign := simCtl(t, sim.url, "/form_ids", map[string]string{"appid": demoApp, "openid": userB})["form_id"].(string)
	for _, f := range []string{good, foreign} {
		if status := getJSON(t, "POST", mp+"/form_ids", sess, fmt.Sprintf(`{"form_ids":[%q]}`, f), nil); status != 200 {
			t.Fatalf("form_ids: %d", status)
		}
	}
	// Refused: naming a user, and a session used on another app's path.
	if status := getJSON(t, "POST", mp+"/form_ids", sess, fmt.Sprintf(`{"form_ids":[%q],"openid":%q}`, foreign, userB), nil); status != 400 {
		t.Fatalf("form_ids naming a user: %d, want 400", status)
	}
	if status := getJSON(t, "GET", api+"/mp/v1/apps/"+otherApp+"/credits", sess, "", nil); status != 403 {
		t.Fatalf("session of %s on %s: %d, want 403", demoApp, otherApp, status)
	}
	simCtl(t, sim.url, "/subscriptions", map[string]any{"appid": demoApp, "openid": userA, "template_id": tpl, "count": 2})
	if status := getJSON(t, "POST", mp+"/subscriptions", sess, fmt.Sprintf(`{%q:"accept","errMsg":"requestSubscribeMessage:ok"}`, tpl), nil); status != 200 {
		t.Fatalf("subscriptions: %d", status)
	}
	// WeChat's own push of the same acceptance, encrypted (safe mode).
	simCtl(t, sim.url, "/events", map[string]any{"appid": demoApp, "type": "subscribe_msg_popup_event", "openid": userA,
		"list": []map[string]string{{"template_id": tpl, "subscribe_status": "accept"}}})

	// The backend sends.
	sub := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": userA, "template_id": tpl, "data": map[string]string{"thing1": "书"}})
	var legs []int64
	for i := range 2 {
		legs = append(legs, postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": userA, "kind": "template",
			"template_id": legacy, "data": map[string]string{"keyword1": "A10" + strconv.Itoa(i)}}))
	}
	if m := waitMessage(t, api, key, sub); m.State != "delivered" {
		t.Fatalf("subscribe message: %+v", m)
	}
	states := map[string]int{}
	for _, id := range legs {
		states[waitMessage(t, api, key, id).State]++
	}
	if states["delivered"] != 1 || states["no_credit"] != 1 {
		t.Fatalf("legacy messages: %v, want one delivered (own form_id) and one no_credit (B's form_id refused)", states)
	}
	simCtl(t, sim.url, "/events", map[string]any{"appid": demoApp, "type": "subscribe_msg_sent_event", "openid": userA,
		"list": []map[string]any{{"template_id": tpl, "msgid": "123", "error_code": 0}}})

	// Another service reads the token, reports it rejected, reads the new one.
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status := getJSON(t, "GET", api+"/v1/apps/"+demoApp+"/access_token", key, "", &tok); status != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", status)
	}
	if status := getJSON(t, "POST", api+"/v1/apps/"+demoApp+"/access_token/invalidate", key, fmt.Sprintf(`{"access_token":%q}`, tok.AccessToken), nil); status != 200 {
		t.Fatalf("invalidate: %d", status)
	}
	// Cross-app requests on the real binary.
	if status := getJSON(t, "GET", api+"/v1/apps/"+otherApp+"/access_token", key, "", nil); status != 403 {
		t.Fatalf("other app's token: %d, want 403", status)
	}
	if status := getJSON(t, "POST", api+"/v1/messages", otherKey, fmt.Sprintf(`{"appid":%q,"openid":%q,"template_id":%q,"data":{"thing1":"x"}}`, demoApp, userA, tpl), nil); status != 403 {
		t.Fatalf("send as another app: %d, want 403", status)
	}
	if status := getJSON(t, "GET", fmt.Sprintf("%s/v1/messages/%d", api, sub), otherKey, "", nil); status != 404 {
		t.Fatalf("read another app's message: %d, want 404", status)
	}
	// A forged push and a replayed login are refused (and logged as such).
	getJSON(t, "POST", api+"/wechat/callback/"+demoApp+"?timestamp="+strconv.FormatInt(time.Now().Unix(), 10)+"&nonce=1&signature=bad", "", "<xml/>", nil)
	getJSON(t, "POST", mp+"/login", "", fmt.Sprintf(`{"code":%q}`, code), nil)

	// Stop serve so its shutdown is logged too.
	serve.cmd.Process.Signal(os.Interrupt)
	serve.cmd.Wait()

	secrets := map[string]string{
		demoSecret: "app secret", otherSecret: "app secret", cbToken: "push Token", aesKey: "EncodingAESKey",
		key: "API key", otherKey: "API key", sess: "session token", good: "form_id", foreign: "form_id",
		tok.AccessToken: "access_token",
	}
	for v, what := range rec.secrets() {
		secrets[v] = what
	}
	var kinds = map[string]int{}
	for _, what := range secrets {
		kinds[what]++
	}
	if kinds["access_token"] < 2 || kinds["session_key"] < 1 {
		t.Fatalf("the recorder saw %v: want at least two access_tokens (before and after the invalidation) and a session_key", kinds)
	}
	logs := serve.Stderr() + sim.Stderr()
	t.Logf("checked %d secret values (%v) against %d bytes of logs", len(secrets), kinds, len(logs))
	if !strings.Contains(logs, "mini-program login") || !strings.Contains(logs, "callback refused") {
		t.Fatalf("the logs do not show the run; stderr:\n%s", logs)
	}
	for v, what := range secrets {
		if v == "" {
			continue
		}
		if strings.Contains(logs, v) {
			i := strings.Index(logs, v)
			t.Errorf("a %s reached the logs: …%s…", what, logs[max(0, i-200):min(len(logs), i+len(v)+50)])
		}
	}
}
