package main_test

import (
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
)

// TestE2E_ErrorClasses drives each class of WeChat error through the real
// binary with the simulator's fault injection, and checks idempotency,
// delayed sends, cancellation and signed outcome webhooks on the way.
func TestE2E_ErrorClasses(t *testing.T) {
	t.Parallel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e, sim, key, tpl := setupLoad(t, dsn, 100*loadUsers)
	api := e.start("serve", "--addr", "127.0.0.1:0").url

	// An outcome webhook, verified like a receiver would.
	var mu sync.Mutex
	events := map[int64]string{}
	var badSig int
	var secret string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		// Verified with the Standard Webhooks specification's own library.
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			badSig++
			http.Error(w, err.Error(), 400)
			return
		}
		var ev struct {
			MessageID int64  `json:"message_id"`
			State     string `json:"state"`
		}
		json.Unmarshal(body, &ev)
		events[ev.MessageID] = ev.State
	}))
	t.Cleanup(hook.Close)
	var created struct {
		Secret string `json:"secret"`
	}
	if code := getJSON(t, "POST", api+"/v1/webhooks", key, fmt.Sprintf(`{"appid":%q,"url":%q}`, demoApp, hook.URL), &created); code != 201 || created.Secret == "" {
		t.Fatalf("create webhook: %d %+v", code, created)
	}
	mu.Lock()
	secret = created.Secret
	mu.Unlock()

	send := func(user int, extra map[string]any) int64 {
		body := map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", user), "template_id": tpl, "data": map[string]string{"thing1": "书"}}
		for k, v := range extra {
			body[k] = v
		}
		return postMessage(t, api, key, body)
	}
	fault := func(code int, count int) {
		simCtl(t, sim.url, "/faults", map[string]any{"path": "/cgi-bin/message/subscribe/send", "errcode": code, "count": count})
	}
	wantAttempts := func(m messageView, codes ...int) {
		t.Helper()
		var got []int
		for _, a := range m.AttemptList {
			got = append(got, a.ErrCode)
		}
		if fmt.Sprint(got) != fmt.Sprint(codes) {
			t.Fatalf("message %d (%s): attempts %v, want %v", m.ID, m.State, got, codes)
		}
	}

	// retry: WeChat busy twice, then delivered.
	fault(-1, 2)
	m := waitMessage(t, api, key, send(1, nil))
	if m.State != "delivered" {
		t.Fatalf("after -1 twice: %+v", m)
	}
	wantAttempts(m, -1, -1, 0)

	// token: someone revoked the token; one refresh, then delivered.
	simCtl(t, sim.url, "/revoke", map[string]string{"appid": demoApp})
	m = waitMessage(t, api, key, send(2, nil))
	if m.State != "delivered" {
		t.Fatalf("after a revocation: %+v", m)
	}

	// credit: WeChat refuses the user's acceptance; the next one is used.
	fault(43101, 1)
	m = waitMessage(t, api, key, send(3, nil))
	if m.State != "delivered" {
		t.Fatalf("after 43101: %+v", m)
	}
	wantAttempts(m, 43101, 0)

	// permanent: failed with the reason, no retry.
	fault(47003, 1)
	m = waitMessage(t, api, key, send(4, nil))
	if m.State != "failed" || !strings.Contains(m.LastError, "argument invalid") {
		t.Fatalf("after 47003: %+v", m)
	}
	wantAttempts(m, 47003)

	// Idempotency-Key: the retried request returns the first message.
	b := fmt.Sprintf(`{"appid":%q,"openid":"oUSER%013d","template_id":%q,"data":{"thing1":"x"}}`, demoApp, 5, tpl)
	var first, again struct {
		ID      int64 `json:"id"`
		Created bool  `json:"created"`
	}
	for i, out := range []any{&first, &again} {
		req, _ := http.NewRequest("POST", api+"/v1/messages", strings.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", "order-42")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(out)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if !first.Created || again.Created || again.ID != first.ID {
		t.Fatalf("idempotent replay: first %+v, again %+v", first, again)
	}

	// Delayed send, cancelled before it is due.
	later := send(6, map[string]any{"send_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	var cancelled messageView
	if code := getJSON(t, "POST", fmt.Sprintf("%s/v1/messages/%d/cancel", api, later), key, "", &cancelled); code != 200 || cancelled.State != "cancelled" {
		t.Fatalf("cancel: %d %+v", code, cancelled)
	}
	// Delayed send, due soon: delivered, not before its time.
	sendAt := time.Now().Add(500 * time.Millisecond)
	m = waitMessage(t, api, key, send(7, map[string]any{"send_at": sendAt.Format(time.RFC3339Nano)}))
	if m.State != "delivered" {
		t.Fatalf("delayed: %+v", m)
	}

	// Every terminal outcome reached the webhook, signed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n, bad, st := len(events), badSig, events[later]
		mu.Unlock()
		if n >= 7 {
			if bad != 0 || st != "cancelled" {
				t.Fatalf("webhook: %d bad signatures, cancelled message reported %q", bad, st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook received %d outcomes, want 7", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
