package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
)

// simCtl calls the simulator's control API and decodes the answer.
func simCtl(t *testing.T, simURL, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	var out map[string]any
	if code := getJSON(t, "POST", simURL+"/sim"+path, "", string(b), &out); code != 200 {
		t.Fatalf("sim %s: status %d %v", path, code, out)
	}
	return out
}

type messageView struct {
	ID          int64             `json:"id"`
	State       string            `json:"state"`
	MsgID       string            `json:"msgid"`
	LastError   string            `json:"last_error"`
	Data        map[string]string `json:"data"`
	AttemptList []struct {
		ErrCode int `json:"errcode"`
	} `json:"attempt_list"`
}

var terminal = map[string]bool{"delivered": true, "failed": true, "no_credit": true, "expired": true, "cancelled": true, "ambiguous": true}

// waitMessage polls GET /v1/messages/{id} until the message is terminal.
func waitMessage(t *testing.T, apiURL, key string, id int64) messageView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var m messageView
		if code := getJSON(t, "GET", fmt.Sprintf("%s/v1/messages/%d", apiURL, id), key, "", &m); code != 200 {
			t.Fatalf("get message %d: status %d", id, code)
		}
		if terminal[m.State] {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %d still %s (%s)", id, m.State, m.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func postMessage(t *testing.T, apiURL, key string, body map[string]any) int64 {
	t.Helper()
	b, _ := json.Marshal(body)
	var r struct {
		ID    int64  `json:"id"`
		Error any    `json:"error"`
		State string `json:"state"`
	}
	if code := getJSON(t, "POST", apiURL+"/v1/messages", key, string(b), &r); code != 202 {
		t.Fatalf("POST /v1/messages: status %d %v", code, r.Error)
	}
	return r.ID
}

// TestE2E_MiniProgramToDelivery walks the whole product with the real
// binary: a user logs in from the mini program with a wx.login code, the
// page reports a form_id and a subscribe acceptance, and the backend's
// messages are delivered with exactly those credits.
func TestE2E_MiniProgramToDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite://"+filepath.Join(t.TempDir(), "wx.db"))
	sim := e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret)
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	key := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))
	api := e.start("serve", "--addr", "127.0.0.1:0").url

	tpl := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}, {"key": "time2", "name": "时间"}}})["template_id"].(string)
	legacy := simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "订单通知", "legacy": true,
		"keywords": []map[string]string{{"name": "单号"}, {"name": "状态"}}})["template_id"].(string)

	const userA, userB = "oUSERA000000000001", "oUSERB000000000002"
	code := simCtl(t, sim.url, "/login_codes", map[string]string{"appid": demoApp, "openid": userA})["code"].(string)
	var login struct {
		SessionToken string `json:"session_token"`
	}
	mp := api + "/mp/v1/apps/" + demoApp
	if status := getJSON(t, "POST", mp+"/login", "", fmt.Sprintf(`{"code":%q}`, code), &login); status != 200 || login.SessionToken == "" {
		t.Fatalf("login: %d %+v", status, login)
	}
	if status := getJSON(t, "POST", mp+"/login", "", fmt.Sprintf(`{"code":%q}`, code), nil); status != 400 {
		t.Fatalf("second login with the same code: %d, want 400", status)
	}
	sess := login.SessionToken

	formID := simCtl(t, sim.url, "/form_ids", map[string]string{"appid": demoApp, "openid": userA})["form_id"].(string)
	var added struct {
		Added int `json:"added"`
	}
	body := fmt.Sprintf(`{"form_ids":[%q, "the formId is a mock one", %q]}`, formID, formID)
	if status := getJSON(t, "POST", mp+"/form_ids", sess, body, &added); status != 200 || added.Added != 1 {
		t.Fatalf("form_ids: %d added=%d, want 1 (mock and duplicate dropped)", status, added.Added)
	}
	// A page that names another user adds nothing to anyone.
	other := simCtl(t, sim.url, "/form_ids", map[string]string{"appid": demoApp, "openid": userB})["form_id"].(string)
	if status := getJSON(t, "POST", mp+"/form_ids", sess, fmt.Sprintf(`{"form_ids":[%q],"openid":%q}`, other, userB), nil); status != 400 {
		t.Fatalf("form_ids naming another openid: %d, want 400", status)
	}
	if status := getJSON(t, "POST", mp+"/form_ids", "", fmt.Sprintf(`{"form_ids":[%q]}`, other), nil); status != 401 {
		t.Fatalf("form_ids without a session: %d, want 401", status)
	}
	simCtl(t, sim.url, "/subscriptions", map[string]any{"appid": demoApp, "openid": userA, "template_id": tpl, "count": 1})
	if status := getJSON(t, "POST", mp+"/subscriptions", sess, fmt.Sprintf(`{%q:"accept","errMsg":"requestSubscribeMessage:ok"}`, tpl), nil); status != 200 {
		t.Fatalf("subscriptions: %d", status)
	}

	sub := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": userA, "template_id": tpl,
		"data": map[string]any{"thing1": map[string]string{"value": "书"}, "time2": "2026-11-25 10:00"}})
	leg := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": userA, "kind": "template", "template_id": legacy,
		"data": map[string]string{"keyword1": "A100", "keyword2": "已发货"}, "emphasis_keyword": "keyword1.DATA"})
	toB := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": userB, "kind": "template", "template_id": legacy,
		"data": map[string]string{"keyword1": "B200", "keyword2": "已发货"}})
	if m := waitMessage(t, api, key, sub); m.State != "delivered" || m.MsgID == "" {
		t.Fatalf("subscribe message: %+v", m)
	}
	if m := waitMessage(t, api, key, leg); m.State != "delivered" {
		t.Fatalf("legacy message: %+v", m)
	}
	if m := waitMessage(t, api, key, toB); m.State != "no_credit" {
		t.Fatalf("message to the user whose form_id was refused: %+v, want no_credit", m)
	}
	var inbox []struct {
		Kind   string `json:"kind"`
		FormID string `json:"form_id"`
	}
	getJSON(t, "GET", sim.url+"/sim/inbox?appid="+demoApp+"&openid="+userA, "", "", &inbox)
	if len(inbox) != 2 {
		t.Fatalf("inbox of A: %+v", inbox)
	}
	for _, d := range inbox {
		if d.Kind == "template" && d.FormID != formID {
			t.Fatalf("legacy message sent with form_id %q, want the one the page reported", d.FormID)
		}
	}
	getJSON(t, "GET", sim.url+"/sim/inbox?appid="+demoApp+"&openid="+userB, "", "", &inbox)
	if len(inbox) != 0 {
		t.Fatalf("B received %+v", inbox)
	}
	// Bad input names the field, and nothing is stored.
	var bad struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	b := fmt.Sprintf(`{"appid":%q,"openid":%q,"template_id":%q,"data":{"thing1":"一二三四五六七八九十一二三四五六七八九十一","time2":"2026-11-25 10:00"}}`, demoApp, userA, tpl)
	if status := getJSON(t, "POST", api+"/v1/messages", key, b, &bad); status != 400 || bad.Error.Field != "data.thing1" {
		t.Fatalf("over-long thing: %d field=%q", status, bad.Error.Field)
	}
}

// TestE2E_CrashRecovery submits messages, kills the service with SIGKILL
// mid-run, starts it again, and checks the accounting: every message ends
// terminal, none is lost, and none reaches the user twice unless the
// service reports it ambiguous.
func TestE2E_CrashRecovery(t *testing.T) {
	t.Parallel()
	n := 20000
	if testing.Short() {
		n = 3000
	}
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e, sim, key, tpl := setupLoad(t, dsn, n)
	serve := e.start("serve", "--addr", "127.0.0.1:0", "--lease", "2s")
	ids := submit(t, []string{serve.url}, key, tpl, n)
	// Kill it while it is delivering.
	if !reachDelivered(t, sim.url, int64(n/4), 3*time.Minute) {
		t.Fatalf("the simulator never saw %d deliveries; serve: %s", n/4, serve.Stderr())
	}
	serve.cmd.Process.Signal(syscall.SIGKILL)
	serve.cmd.Wait()
	restarted := e.start("serve", "--addr", "127.0.0.1:0", "--lease", "2s")
	account(t, sim.url, restarted.url, key, ids)
}

// TestE2E_TwoInstancesPostgres runs two instances on one PostgreSQL
// database, kills one mid-run, and checks that both did work and that
// every message was delivered once (or reported ambiguous).
func TestE2E_TwoInstancesPostgres(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the PostgreSQL end-to-end test", testdb.PostgresEnv)
	}
	n := 20000
	if testing.Short() {
		n = 3000
	}
	e, sim, key, tpl := setupLoad(t, testdb.PostgresSchemaDSN(t), n)
	a := e.start("serve", "--addr", "127.0.0.1:0", "--lease", "2s", "--instance-name", "a")
	b := e.start("serve", "--addr", "127.0.0.1:0", "--lease", "2s", "--instance-name", "b")
	// Messages go in through b while both deliver; a is killed mid-run.
	var doneA, doneB int
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		if !reachDelivered(t, sim.url, int64(n/4), 3*time.Minute) {
			t.Errorf("the simulator never saw %d deliveries", n/4)
		}
		doneA, doneB = delivered(t, a.url), delivered(t, b.url)
		a.cmd.Process.Signal(syscall.SIGKILL)
		a.cmd.Wait()
	}()
	ids := submit(t, []string{b.url}, key, tpl, n)
	<-killed
	account(t, sim.url, b.url, key, ids)
	t.Logf("delivered before the kill: a=%v b=%v", doneA, doneB)
	if doneA == 0 || doneB == 0 {
		t.Fatalf("work not shared: a delivered %v, b %v", doneA, doneB)
	}
}

// setupLoad starts a simulator and registers an app, an API key, a
// template and credits for n messages over 100 users.
func setupLoad(t *testing.T, dsn string, n int) (e *env, sim *process, key, tpl string) {
	t.Helper()
	e = newEnv(t, dsn)
	sim = e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret, "--latency", "2ms", "--inbox-limit", "100000")
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	key = strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "orders", "--app", demoApp))
	tpl = simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	grantAll(t, dsn, sim.url, tpl, loadUsers, n/loadUsers)
	return e, sim, key, tpl
}

const loadUsers = 100

// submit posts n messages from 32 producers spread over the instances;
// message i carries "m<i>" so its arrivals at WeChat can be counted.
func submit(t *testing.T, urls []string, key, tpl string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for p := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				ids[i] = postMessage(t, urls[p%len(urls)], key, map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", i%loadUsers),
					"template_id": tpl, "data": map[string]string{"thing1": fmt.Sprintf("m%d", i)}})
			}
		}()
	}
	wg.Wait()
	return ids
}

// account waits for every message to be terminal and checks that none was
// lost or reached WeChat twice without being reported ambiguous.
func account(t *testing.T, simURL, apiURL, key string, ids []int64) {
	t.Helper()
	states := map[string]int{}
	byState := map[int64]string{}
	for _, id := range ids {
		m := waitMessage(t, apiURL, key, id)
		states[m.State]++
		byState[id] = m.State
	}
	var inbox []struct {
		Data map[string]string `json:"data"`
	}
	arrivals := map[string]int{}
	getJSON(t, "GET", simURL+"/sim/inbox?appid="+demoApp, "", "", &inbox)
	for _, d := range inbox {
		arrivals[d.Data["thing1"]]++
	}
	var twice, lostDelivered int
	for i, id := range ids {
		got := arrivals[fmt.Sprintf("m%d", i)]
		switch {
		case got > 1 && byState[id] != "ambiguous":
			twice++
		case got == 0 && byState[id] == "delivered":
			lostDelivered++
		}
	}
	t.Logf("messages=%d states=%v arrivals=%d", len(ids), states, len(inbox))
	if twice > 0 {
		t.Fatalf("%d messages reached WeChat twice without being reported ambiguous", twice)
	}
	if lostDelivered > 0 {
		t.Fatalf("%d messages reported delivered never reached WeChat", lostDelivered)
	}
	if states["delivered"]+states["ambiguous"] != len(ids) {
		t.Fatalf("states=%v: every message had a credit, so each must be delivered or ambiguous", states)
	}
}

var deliveredMetric = regexp.MustCompile(`(?m)^wxnotify_messages_total\{outcome="delivered"\} (\d+)`)

// delivered reads an instance's delivered count from its /metrics.
func delivered(t *testing.T, apiURL string) int {
	t.Helper()
	resp, err := http.Get(apiURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := deliveredMetric.FindSubmatch(b)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// grantAll gives each user per acceptances on WeChat's side and in the
// ledger (written straight to the database, as n page reports would).
func grantAll(t *testing.T, dsn, simURL, tpl string, users, per int) {
	t.Helper()
	ctx := context.Background()
	st, err := storeopen.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for u := range users {
		openID := fmt.Sprintf("oUSER%013d", u)
		simCtl(t, simURL, "/subscriptions", map[string]any{"appid": demoApp, "openid": openID, "template_id": tpl, "count": per})
		batch := make([]*store.CreditInsertParams, per)
		for i := range batch {
			batch[i] = &store.CreditInsertParams{AppID: demoApp, OpenID: openID, Kind: "subscribe", TemplateID: tpl, Uses: 1, ObtainedAt: now, Source: "test"}
		}
		if _, err := st.CreditInsertBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
}

// reachDelivered waits until the simulator has seen at least at
// deliveries, and reports false if that takes longer than within.
func reachDelivered(t *testing.T, simURL string, at int64, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for simDelivered(t, simURL) < at {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

func simDelivered(t *testing.T, simURL string) int64 {
	var calls map[string]float64
	getJSON(t, "GET", simURL+"/sim/calls?appid="+demoApp, "", "", &calls)
	return int64(calls["delivered"])
}
