package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fidelityEnv is serve on SQLite against the simulator, with the demo app
// registered (its secret checked), an API key, and a user logged in from the
// mini program.
type fidelityEnv struct {
	e        *env
	sim, api string
	key      string
	mp, sess string
}

const fidelityUser = "oFIDELITY000000001"

func newFidelityEnv(t *testing.T, vars ...string) *fidelityEnv {
	t.Helper()
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"))
	e.vars = append(e.vars, vars...)
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	f := &fidelityEnv{e: e, sim: sim.url}
	f.key = strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))
	f.api = e.start("serve", "--addr", "127.0.0.1:0").url
	f.mp = f.api + "/mp/v1/apps/" + demoApp
	code := simCtl(t, sim.url, "/login_codes", map[string]string{"appid": demoApp, "openid": fidelityUser})["code"].(string)
	var login struct {
		SessionToken string `json:"session_token"`
	}
	if status := getJSON(t, "POST", f.mp+"/login", "", fmt.Sprintf(`{"code":%q}`, code), &login); status != 200 {
		t.Fatalf("login: %d", status)
	}
	f.sess = login.SessionToken
	return f
}

func (f *fidelityEnv) template(t *testing.T, typ int, legacy bool) string {
	t.Helper()
	body := map[string]any{"appid": demoApp, "title": "预约提醒", "type": typ, "legacy": legacy,
		"keywords": []map[string]string{{"key": "thing1", "name": "项目"}, {"key": "time2", "name": "时间"}}}
	if legacy {
		body["keywords"] = []map[string]string{{"name": "单号"}, {"name": "状态"}}
	}
	return simCtl(t, f.sim, "/templates", body)["template_id"].(string)
}

func (f *fidelityEnv) inbox(t *testing.T) int {
	t.Helper()
	var inbox []json.RawMessage
	getJSON(t, "GET", f.sim+"/sim/inbox?appid="+demoApp+"&openid="+fidelityUser, "", "", &inbox)
	return len(inbox)
}

// TestE2E_LongTermSubscription: one acceptance of a long-term template
// (type 3) carries every send, as WeChat allows, until the user turns it off.
func TestE2E_LongTermSubscription(t *testing.T) {
	t.Parallel()
	f := newFidelityEnv(t)
	tpl := f.template(t, 3, false)
	f.e.mustRun("", "template", "sync")
	simCtl(t, f.sim, "/subscriptions", map[string]any{"appid": demoApp, "openid": fidelityUser, "template_id": tpl, "count": 1})
	if status := getJSON(t, "POST", f.mp+"/subscriptions", f.sess, fmt.Sprintf(`{%q:"accept"}`, tpl), nil); status != 200 {
		t.Fatalf("subscriptions: %d", status)
	}
	for i := range 3 {
		id := postMessage(t, f.api, f.key, map[string]any{"appid": demoApp, "openid": fidelityUser, "template_id": tpl,
			"data": map[string]string{"thing1": fmt.Sprint("体检 ", i), "time2": "2026-12-24 10:00"}})
		if m := waitMessage(t, f.api, f.key, id); m.State != "delivered" {
			t.Fatalf("send %d on a long-term subscription: %+v", i, m)
		}
	}
	if n := f.inbox(t); n != 3 {
		t.Fatalf("inbox holds %d, want 3", n)
	}
}

// TestE2E_PrepayID: a prepay_id registered by the backend carries three
// legacy sends; the fourth has no credit.
func TestE2E_PrepayID(t *testing.T) {
	t.Parallel()
	f := newFidelityEnv(t)
	legacy := f.template(t, 0, true)
	prepay := simCtl(t, f.sim, "/prepay_ids", map[string]string{"appid": demoApp, "openid": fidelityUser})["prepay_id"].(string)
	out := f.e.mustRun("", "credits", "add", "--url", f.api, "--api-key", f.key, "--app", demoApp, "--openid", fidelityUser, "--kind", "prepay_id", prepay)
	if !strings.Contains(out, "added 1 of 1") {
		t.Fatalf("credits add: %q", out)
	}
	if strings.Contains(out, prepay) {
		t.Fatal("credits add printed the prepay_id")
	}
	var states []string
	for i := range 4 {
		id := postMessage(t, f.api, f.key, map[string]any{"appid": demoApp, "openid": fidelityUser, "kind": "template", "template_id": legacy,
			"data": map[string]string{"keyword1": fmt.Sprint("A", i), "keyword2": "已发货"}})
		states = append(states, waitMessage(t, f.api, f.key, id).State)
	}
	if want := "[delivered delivered delivered no_credit]"; fmt.Sprint(states) != want {
		t.Fatalf("four legacy sends on one prepay_id: %v, want %s", states, want)
	}
	// Registering for another app's user is refused; a bad kind names it.
	var bad struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	body := fmt.Sprintf(`{"openid":%q,"kind":"subscribe","values":["x"]}`, fidelityUser)
	if status := getJSON(t, "POST", f.api+"/v1/apps/"+demoApp+"/credits", f.key, body, &bad); status != 400 || bad.Error.Field != "kind" {
		t.Fatalf("credits of kind subscribe: %d %q, want 400 naming kind", status, bad.Error.Field)
	}
}

// TestE2E_AcceptChecks: an unknown template id is refused naming
// template_id; an idempotency key reused with another body is 409 naming
// the first message.
func TestE2E_AcceptChecks(t *testing.T) {
	t.Parallel()
	f := newFidelityEnv(t)
	tpl := f.template(t, 2, false)
	var bad struct {
		Error struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body := fmt.Sprintf(`{"appid":%q,"openid":%q,"template_id":"NO-SUCH-TEMPLATE","data":{"thing1":"x","time2":"15:01"}}`, demoApp, fidelityUser)
	if status := getJSON(t, "POST", f.api+"/v1/messages", f.key, body, &bad); status != 400 || bad.Error.Field != "template_id" {
		t.Fatalf("unknown template: %d %+v, want 400 naming template_id", status, bad.Error)
	}
	// The template was added on the platform after serve started: the
	// miss syncs the catalog and finds it.
	sendAt := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	msg := func(thing string) map[string]any {
		return map[string]any{"appid": demoApp, "openid": fidelityUser, "template_id": tpl,
			"data": map[string]string{"thing1": thing, "time2": "15:01"}, "send_at": sendAt}
	}
	post := func(body map[string]any, out any) int {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", f.api+"/v1/messages", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+f.key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "order-7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
		return resp.StatusCode
	}
	var first, again struct {
		ID int64 `json:"id"`
	}
	if status := post(msg("书"), &first); status != 202 {
		t.Fatalf("first: %d", status)
	}
	if status := post(msg("书"), &again); status != 200 && status != 202 || again.ID != first.ID {
		t.Fatalf("replay: %d id %d, want the first message %d", status, again.ID, first.ID)
	}
	if status := post(msg("另一本书"), &bad); status != 409 ||
		bad.Error.Field != "idempotency_key" || !strings.Contains(bad.Error.Message, fmt.Sprint("message ", first.ID)) {
		t.Fatalf("same key, other data: %d %+v, want 409 naming message %d", status, bad.Error, first.ID)
	}
}

// TestE2E_OneSendPerUser: 50 messages to one openid in one burst: the
// simulator, which answers 43108 to overlapping sends to one openid, sees
// none, and every message is delivered once.
func TestE2E_OneSendPerUser(t *testing.T) {
	t.Parallel()
	f := newFidelityEnv(t, "WXNOTIFY_SESSIONS_BURST=100") // the page reports 50 acceptances
	tpl := f.template(t, 2, false)
	f.e.mustRun("", "template", "sync")
	simCtl(t, f.sim, "/latency", map[string]string{"fixed": "5ms"})
	const n = 50
	simCtl(t, f.sim, "/subscriptions", map[string]any{"appid": demoApp, "openid": fidelityUser, "template_id": tpl, "count": n})
	for range n { // the page reports one acceptance per call
		if status := getJSON(t, "POST", f.mp+"/subscriptions", f.sess, fmt.Sprintf(`{%q:"accept"}`, tpl), nil); status != 200 {
			t.Fatalf("subscriptions: %d", status)
		}
	}
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = postMessage(t, f.api, f.key, map[string]any{"appid": demoApp, "openid": fidelityUser, "template_id": tpl,
				"data": map[string]string{"thing1": fmt.Sprint("第", i, "件"), "time2": "15:01"}})
		})
	}
	wg.Wait()
	for _, id := range ids {
		if m := waitMessage(t, f.api, f.key, id); m.State != "delivered" {
			t.Fatalf("message %d: %+v", id, m)
		}
	}
	var calls struct {
		Overlaps int64 `json:"overlaps"`
	}
	getJSON(t, "GET", f.sim+"/sim/calls?appid="+demoApp+"&path=/cgi-bin/message/subscribe/send", "", "", &calls)
	if calls.Overlaps != 0 {
		t.Fatalf("the simulator saw %d overlapping sends to one openid from one instance", calls.Overlaps)
	}
	if got := f.inbox(t); got != n {
		t.Fatalf("inbox holds %d, want %d", got, n)
	}
}
