package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
)

// TestE2E_WebhookDeadReplay: a receiver that fails gets the event until it
// is dead; the dead event is listed by the API and the CLI, counted by the
// metrics, and replayed by the CLI; every request verifies with the
// Standard Webhooks library and carries the same webhook-id.
func TestE2E_WebhookDeadReplay(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e, _, key, tpl := setupLoad(t, dsn, loadUsers)
	api := e.start("serve", "--addr", "127.0.0.1:0").url

	var (
		mu     sync.Mutex
		secret string
		ok     bool // the receiver's answer: 500 until set
		ids    []string
	)
	got := make(chan struct{}, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			t.Errorf("receiver: %v", err)
		}
		ids = append(ids, r.Header.Get("webhook-id"))
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
		got <- struct{}{}
	}))
	t.Cleanup(hook.Close)
	var created struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	if code := getJSON(t, "POST", api+"/v1/webhooks", key, fmt.Sprintf(`{"appid":%q,"url":%q}`, demoApp, hook.URL), &created); code != 201 ||
		!strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create webhook: %d %+v", code, created)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()

	msg := postMessage(t, api, key, map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", 1), "template_id": tpl, "data": map[string]string{"thing1": "书"}})
	waitMessage(t, api, key, msg)
	select {
	case <-got: // the first attempt, answered 500
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook request")
	}

	// The attempts left are an hour of backoff: play them out in the
	// database, as the sender would record the last one.
	st, err := storeopen.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Hour)
	rows, err := st.WebhookOutboxClaim(context.Background(), &store.WebhookOutboxClaimParams{Holder: "test", Now: later, LeaseUntil: later.Add(time.Minute), Limit: 10})
	if err != nil || len(rows) != 1 {
		t.Fatalf("claim the event: %d rows, %v", len(rows), err)
	}
	if ok, err := st.WebhookOutboxFinish(context.Background(), &store.WebhookOutboxFinishParams{ID: rows[0].ID, Holder: "test", Dead: true, LastError: "HTTP 500", Now: later}); err != nil || !ok {
		t.Fatalf("finish dead: %v, %v", ok, err)
	}
	st.Close()

	var list struct {
		Deliveries []struct {
			ID        int64  `json:"id"`
			State     string `json:"state"`
			MessageID int64  `json:"message_id"`
			Payload   struct {
				State string `json:"state"`
			} `json:"payload"`
		} `json:"deliveries"`
	}
	url := fmt.Sprintf("%s/v1/webhooks/%d/deliveries", api, created.ID)
	if code := getJSON(t, "GET", url+"?state=dead", key, "", &list); code != 200 || len(list.Deliveries) != 1 ||
		list.Deliveries[0].MessageID != msg || list.Deliveries[0].State != "dead" || list.Deliveries[0].Payload.State != "delivered" {
		t.Fatalf("dead deliveries: %d %+v", code, list)
	}
	out := e.mustRun("", "webhooks", "deliveries", fmt.Sprint(created.ID), "--state", "dead")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "),
		fmt.Sprintf("%d message.delivered %d dead", list.Deliveries[0].ID, msg)) || !strings.HasSuffix(lines[1], "HTTP 500") {
		t.Fatalf("webhooks deliveries:\n%s", out)
	}
	if out := e.mustRun("", "webhooks", "list"); !strings.HasSuffix(strings.Join(strings.Fields(out), " "), "PENDING DEAD "+fmt.Sprint(created.ID)+" "+demoApp+" "+hook.URL+" 0 1") {
		t.Fatalf("webhooks list:\n%s", out)
	}
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`wxnotify_webhook_outbox_events{state="dead"} 1`, `wxnotify_webhook_attempts_total{result="retry"} 1`,
		`wxnotify_http_requests_total{code="201",route="POST /v1/webhooks"} 1`, `wxnotify_queue_messages{state="waiting_credit"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The receiver is fixed; the replay sends the event again at once.
	mu.Lock()
	ok = true
	mu.Unlock()
	if out := e.mustRun("", "webhooks", "replay", fmt.Sprint(created.ID)); !strings.Contains(out, "1 dead event of webhook") {
		t.Fatalf("webhooks replay: %s", out)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the replayed event was not sent")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] != fmt.Sprintf("evt_%d", list.Deliveries[0].ID) {
		t.Fatalf("webhook-id of the two requests: %v, want the same evt_%d", ids, list.Deliveries[0].ID)
	}
}

// TestE2E_BroadcastFinished: a broadcast is listed, finishes with its
// outcomes once its last message ends, and a retry under its
// Idempotency-Key returns it.
func TestE2E_BroadcastFinished(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e, _, key, tpl := setupLoad(t, dsn, loadUsers)
	api := e.start("serve", "--addr", "127.0.0.1:0").url
	body := fmt.Sprintf(`{"appid":%q,"template_id":%q,"data":{"thing1":"上新"},"recipients":[{"openid":"oUSER%013d"},{"openid":"oNOCREDIT"}]}`, demoApp, tpl, 1)
	post := func(b string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", api+"/v1/broadcasts", strings.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "launch-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, first := post(body)
	if code != 202 || first["created"] != true {
		t.Fatalf("broadcast: %d %v", code, first)
	}
	id := int64(first["id"].(float64))
	var b struct {
		State      string           `json:"state"`
		Counts     map[string]int64 `json:"counts"`
		FinishedAt string           `json:"finished_at"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.State != "finished" {
		if time.Now().After(deadline) {
			t.Fatalf("broadcast %d did not finish: %+v", id, b)
		}
		getJSON(t, "GET", fmt.Sprintf("%s/v1/broadcasts/%d", api, id), key, "", &b)
	}
	if b.Counts["delivered"] != 1 || b.Counts["no_credit"] != 1 || b.Counts["failed"] != 0 || b.FinishedAt == "" {
		t.Fatalf("finished broadcast: %+v", b)
	}
	code, again := post(body)
	if code != 202 || again["created"] != false || again["id"] != first["id"] || again["state"] != "finished" {
		t.Fatalf("retry: %d %v, want broadcast %d, not created", code, again, id)
	}
	if code, out := post(strings.Replace(body, "上新", "改了", 1)); code != 409 {
		t.Fatalf("another broadcast under the key: %d %v, want 409", code, out)
	}
	var list struct {
		Broadcasts []struct {
			ID int64 `json:"id"`
		} `json:"broadcasts"`
	}
	if code := getJSON(t, "GET", api+"/v1/broadcasts?state=finished&appid="+demoApp, key, "", &list); code != 200 || len(list.Broadcasts) != 1 || list.Broadcasts[0].ID != id {
		t.Fatalf("GET /v1/broadcasts: %d %+v", code, list)
	}
	if code := getJSON(t, "GET", api+"/v1/broadcasts?state=bogus", key, "", nil); code != 400 {
		t.Fatalf("GET /v1/broadcasts?state=bogus: %d, want 400", code)
	}
	if code := getJSON(t, "GET", api+"/v1/messages?state=bogus", key, "", nil); code != 400 {
		t.Fatalf("GET /v1/messages?state=bogus: %d, want 400", code)
	}
}
