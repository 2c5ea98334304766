package main_test

// End-to-end checks of the store seam's promises: an outcome is written
// with its webhook event in one transaction (so a database outage loses
// none), and the queue runs on the database's clock (so an instance whose
// clock is wrong neither sends early, expires early, nor takes over live
// leases).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
)

// hookReceiver counts the outcome events a webhook receives, per message.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events map[int64][]string // message id → states received
	posts  int
	// reached is signalled (non-blocking) on every new message's event.
	reached chan struct{}
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{events: map[int64][]string{}, reached: make(chan struct{}, 1)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e struct {
			MessageID int64  `json:"message_id"`
			State     string `json:"state"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &e); err != nil || e.MessageID == 0 {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.posts++
		h.events[e.MessageID] = append(h.events[e.MessageID], e.State)
		h.mu.Unlock()
		select {
		case h.reached <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) distinct() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.events)
}

// waitDistinct waits, on the receiver's signal, until events of n distinct
// messages arrived or the deadline passes.
func (h *hookReceiver) waitDistinct(n int, deadline time.Time) bool {
	for h.distinct() < n {
		select {
		case <-h.reached:
		case <-time.After(time.Until(deadline)):
			return h.distinct() >= n
		}
	}
	return true
}

func registerWebhook(t *testing.T, apiURL, key, hookURL string) {
	t.Helper()
	var created struct {
		ID int64 `json:"id"`
	}
	if code := getJSON(t, "POST", apiURL+"/v1/webhooks", key, fmt.Sprintf(`{"appid":%q,"url":%q}`, demoApp, hookURL), &created); code != 201 {
		t.Fatalf("POST /v1/webhooks: %d", code)
	}
}

// TestE2E_WebhooksSurvivePostgresOutage sends 10,000 messages through
// `wxnotify serve` on PostgreSQL with a webhook registered, and cuts the
// database away for 10 s in the middle of delivery (every connection
// closed, new ones refused, through a TCP proxy: to the service, the
// database is down). Every message's outcome event must reach the
// receiver, and none twice: the outcome and its event are one transaction,
// and an attempt is recorded through the outage while its lease holds.
func TestE2E_WebhooksSurvivePostgresOutage(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the PostgreSQL outage test", testdb.PostgresEnv)
	}
	const n = 10000
	dsn := testdb.PostgresSchemaDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pg := testdb.NewProxy(t, u.Host)
	u.Host = pg.Addr()
	e, sim, key, tpl := setupLoad(t, dsn, n)
	e.vars = append(slices.DeleteFunc(e.vars, func(v string) bool { return strings.HasPrefix(v, "WXNOTIFY_DB=") }),
		"WXNOTIFY_DB="+u.String())
	e.vars = append(e.vars, campaignTuning...)
	serve := e.start("serve", "--addr", "127.0.0.1:0")
	hook := newHookReceiver(t)
	registerWebhook(t, serve.url, key, hook.srv.URL)

	// Submit everything first (accepting needs the database too), with
	// WeChat slow enough that delivery is still under way afterwards; then
	// cut the database while outcomes are being written.
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "400ms"})
	t1 := time.Now()
	ids := submit(t, []string{serve.url}, key, tpl, n)
	t.Logf("submitted %d in %v", n, time.Since(t1).Round(time.Millisecond))
	before := simDelivered(t, sim.url)
	t0 := time.Now()
	pg.Outage(10 * time.Second)
	took := time.Since(t0)
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "2ms"})
	if before == 0 || before >= n {
		t.Fatalf("the outage began with %d of %d delivered: not mid-delivery", before, n)
	}
	t.Logf("database cut for %v with %d of %d messages delivered", took.Round(time.Millisecond), before, n)
	account(t, sim.url, serve.url, key, ids)
	if !hook.waitDistinct(n, time.Now().Add(2*time.Minute)) {
		t.Errorf("webhook events of %d of %d messages arrived", hook.distinct(), n)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	var lost, twice int
	for _, id := range ids {
		switch got := hook.events[id]; {
		case len(got) == 0:
			lost++
		case len(got) > 1:
			twice++
		}
	}
	t.Logf("%d messages, %d webhook POSTs, %d lost, %d twice", n, hook.posts, lost, twice)
	if lost > 0 || twice > 0 {
		t.Errorf("%d outcome events lost and %d received twice, want 0 and 0", lost, twice)
	}
	if logs := serve.Stderr(); strings.Contains(logs, "panic") {
		t.Errorf("the service panicked:\n%s", tail(logs, 4000))
	}
}

// TestE2E_ClockSkewPostgres runs two instances on one PostgreSQL database,
// the second with its clock 120 s ahead (WXNOTIFY_TEST_CLOCK_OFFSET: a clock
// the instance is given, not the machine's). Delayed messages accepted by
// either are not sent before their send_at; messages waiting for a credit
// do not expire before their TTL; and live sends of one instance are never
// taken over by the other as lost leases, so none is reported ambiguous.
func TestE2E_ClockSkewPostgres(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the clock-skew test", testdb.PostgresEnv)
	}
	const n = 2000 // live sends across both instances
	dsn := testdb.PostgresSchemaDSN(t)
	e, sim, key, tpl := setupLoad(t, dsn, n)
	e.vars = append(e.vars, campaignTuning...)
	// A short lease makes a skewed takeover likely if the clock were the
	// instance's: 120 s ahead, every lease of the other looks expired.
	a := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "right", "--lease", "5s")
	skewed := *e
	skewed.vars = append(slices.Clone(e.vars), "WXNOTIFY_TEST_CLOCK_OFFSET=120s")
	b := skewed.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "ahead", "--lease", "5s")
	urls := []string{a.url, b.url}

	ops := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "ops", "--app", "*"))

	// Delayed: due 3 s from now, accepted by both instances.
	sendAt := time.Now().Add(3 * time.Second).UTC()
	var delayed []int64
	for i, api := range []string{a.url, b.url, a.url, b.url} {
		user := fmt.Sprintf("oDELAY%012d", i)
		grantUser(t, dsn, sim.url, tpl, user)
		delayed = append(delayed, postMessage(t, api, key, map[string]any{"appid": demoApp,
			"openid": user, "template_id": tpl, "send_at": sendAt.Format(time.RFC3339Nano),
			"data": map[string]string{"thing1": fmt.Sprintf("d%d", i)}}))
	}
	// Waiting: a user with no credit yet, a TTL of 30 s, accepted by the
	// instance whose clock is right; the skewed one's expiry job must not
	// end it (by its own clock, the TTL passed 90 s ago).
	const waitUser = "oWAIT000000000000000000000001"
	waiting := postMessage(t, a.url, key, map[string]any{"appid": demoApp, "openid": waitUser, "template_id": tpl,
		"wait_for_credit": true, "ttl": "30s", "data": map[string]string{"thing1": "w0"}})

	// Live sends on both instances, meanwhile.
	ids := submit(t, urls, key, tpl, n)

	// Signal, not sleep: the skewed instance's expiry job has run twice
	// since the waiting message was accepted (and claimed as credit-less).
	waitJobRuns(t, b.url, ops, "message_expiry", 2)
	var m messageView
	getJSON(t, "GET", fmt.Sprintf("%s/v1/messages/%d", a.url, waiting), key, "", &m)
	if m.State != "waiting_credit" {
		t.Fatalf("the waiting message is %s (%s) early in a TTL of 30 s, want waiting_credit", m.State, m.LastError)
	}
	grantUser(t, dsn, sim.url, tpl, waitUser)
	if got := waitMessage(t, a.url, key, waiting); got.State != "delivered" {
		t.Errorf("waiting message: %s (%s), want delivered", got.State, got.LastError)
	}

	account(t, sim.url, a.url, key, ids)
	states := map[string]int{}
	for _, id := range ids {
		states[waitMessage(t, a.url, key, id).State]++
	}
	if states["ambiguous"] > 0 {
		t.Errorf("%d live sends reported ambiguous with one instance's clock 120 s ahead, want 0 (states %v)", states["ambiguous"], states)
	}

	// The delayed messages reached WeChat at or after send_at, by the
	// simulator's (the machine's) clock.
	var inbox []struct {
		Data map[string]string `json:"data"`
		At   time.Time         `json:"at"`
	}
	getJSON(t, "GET", sim.url+"/sim/inbox?appid="+demoApp, "", "", &inbox)
	for i, id := range delayed {
		if got := waitMessage(t, a.url, key, id); got.State != "delivered" {
			t.Errorf("delayed message %d: %s (%s)", id, got.State, got.LastError)
		}
		arrived := 0
		for _, d := range inbox {
			if d.Data["thing1"] != fmt.Sprintf("d%d", i) {
				continue
			}
			arrived++
			if d.At.Before(sendAt) {
				t.Errorf("delayed message %d (accepted by %s) reached WeChat at %v, %v before its send_at",
					id, []string{"right", "ahead"}[i%2], d.At, sendAt.Sub(d.At))
			}
		}
		if arrived != 1 {
			t.Errorf("delayed message %d reached WeChat %d times, want once", id, arrived)
		}
	}
	if logs := b.Stderr(); !strings.Contains(logs, "clock differs from the database's") {
		t.Errorf("the skewed instance did not warn about its clock:\n%s", tail(logs, 2000))
	}
}

// grantUser gives one user one acceptance of tpl, on WeChat's side and in
// the ledger.
func grantUser(t *testing.T, dsn, simURL, tpl, openID string) {
	t.Helper()
	simCtl(t, simURL, "/subscriptions", map[string]any{"appid": demoApp, "openid": openID, "template_id": tpl, "count": 1})
	st, err := storeopen.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreditInsertBatch(context.Background(), []*store.CreditInsertParams{{AppID: demoApp, OpenID: openID,
		Kind: string(wxnotify.CreditSubscribe), TemplateID: tpl, Uses: 1, ObtainedAt: time.Now(), Source: "test"}}); err != nil {
		t.Fatal(err)
	}
}

// waitJobRuns waits until the instance's job has finished runs more runs
// than when called (GET /v1/jobs, which an operator's key may read).
func waitJobRuns(t *testing.T, apiURL, key, job string, runs int64) {
	t.Helper()
	count := func() int64 {
		var r struct {
			Jobs []struct {
				Name string `json:"name"`
				Runs int64  `json:"runs"`
			} `json:"jobs"`
		}
		if code := getJSON(t, "GET", apiURL+"/v1/jobs", key, "", &r); code != 200 {
			t.Fatalf("GET /v1/jobs: %d", code)
		}
		for _, j := range r.Jobs {
			if j.Name == job {
				return j.Runs
			}
		}
		t.Fatalf("GET /v1/jobs: no job %s", job)
		return 0
	}
	want := count() + runs
	deadline := time.Now().Add(30 * time.Second)
	for count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not run %d more times within 30 s", job, runs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
