package http_test

// What the API answers while the database is away: 503 with Retry-After,
// never 500, on the real services over a real database; and a broadcast
// whose upload the outage cut off says at once how many of its recipients
// were stored.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/delivery"
	wxhttp "github.com/wxnotify/wxnotify/http"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storetest"
	"github.com/wxnotify/wxnotify/token"
)

// outageBundle is a Server over one database that the test can take away
// (down) and, where the engine allows, give back (up).
type outageBundle struct {
	url      string
	key      string
	st       store.Driver
	down, up func()
}

func setupOutage(t *testing.T, engine string) *outageBundle {
	t.Helper()
	ctx := context.Background()
	b := &outageBundle{}
	var open storetest.OpenFunc
	switch engine {
	case "sqlite":
		open = testdb.NewSQLiteDB(t)
		// SQLite is a file of this process: the outage is the database
		// closed under the services, and it does not come back.
		b.down = func() { b.st.Close() }
	case "postgres":
		var proxy *testdb.Proxy
		open, proxy = testdb.NewPostgresDBThroughProxy(t)
		b.down, b.up = proxy.Down, proxy.Up
	}
	b.st = open(t)
	key, _ := seal.ParseKey(seal.GenerateKey())
	box, _ := seal.New(key)
	apps := &token.AppService{Store: b.st, Box: box}
	if err := apps.CreateApp(ctx, &wxnotify.App{AppID: appA, Secret: "secret-of-app-A-0123456789"}); err != nil {
		t.Fatal(err)
	}
	keys := &apikey.Service{Store: b.st}
	var err error
	if b.key, err = keys.CreateAPIKey(ctx, &wxnotify.APIKey{Name: "svc-a", Apps: []string{appA}}); err != nil {
		t.Fatal(err)
	}
	msgs := &delivery.Service{Queue: queue.New(b.st), Store: b.st, Apps: apps}
	wctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	msgs.Start(wctx)

	s := wxhttp.NewServer()
	s.Addr = "127.0.0.1:0"
	s.AppService = apps
	s.APIKeyService = keys
	s.MessageService = msgs
	s.BroadcastService = &delivery.BroadcastService{Store: b.st, Messages: msgs, Chunk: 100}
	s.Ready = func(ctx context.Context) error { _, err := b.st.AppList(ctx); return err }
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	b.url = s.URL()
	return b
}

// stored counts the app's messages in the database.
func (b *outageBundle) stored(t *testing.T) int64 {
	t.Helper()
	counts, err := b.st.MessageCounts(context.Background(), &store.MessageCountsParams{AppID: appA})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range counts {
		n += c
	}
	return n
}

// wantUnavailable checks a 503 with Retry-After and the JSON error
// "unavailable", and returns its message.
func wantUnavailable(t *testing.T, what string, resp *http.Response, body string) string {
	t.Helper()
	var e wxnotify.ErrorResponse
	if resp.StatusCode != 503 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != wxnotify.EUNAVAILABLE {
		t.Fatalf("%s with the database away: %d %s, want 503 unavailable", what, resp.StatusCode, body)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra <= 0 {
		t.Fatalf("%s: Retry-After %q, want a number of seconds", what, resp.Header.Get("Retry-After"))
	}
	return e.Error.Message
}

func TestOutage_Unavailable(t *testing.T) {
	t.Parallel()
	for _, e := range testdb.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			b := setupOutage(t, e.Name)
			if resp, body := do(t, "POST", b.url+"/v1/messages", b.key, messageBody(appA, "o1")); resp.StatusCode != 202 {
				t.Fatalf("POST /v1/messages: %d %s", resp.StatusCode, body)
			}

			// A broadcast upload in flight: 250 recipients read, 200 of
			// them stored (chunks of 100), then the database goes away.
			pr, pw := io.Pipe()
			type answer struct {
				resp *http.Response
				body string
			}
			answered := make(chan answer, 1)
			go func() {
				req, _ := http.NewRequest("POST", b.url+"/v1/broadcasts", pr)
				req.Header.Set("Authorization", "Bearer "+b.key)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					answered <- answer{body: err.Error()}
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				answered <- answer{resp, string(out)}
			}()
			fmt.Fprintf(pw, `{"appid":%q,"template_id":"TPL_B","data":{"thing1":"hello"}}`+"\n", appA)
			for i := range 250 {
				fmt.Fprintf(pw, "%q\n", fmt.Sprintf("oB%04d", i))
			}
			deadline := time.Now().Add(time.Minute)
			for b.stored(t) < 1+200 { // the first message, and two chunks
				select {
				case a := <-answered:
					t.Fatalf("broadcast answered before its body ended: %v %s", a.resp, a.body)
				case <-time.After(5 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("the broadcast's first two chunks not stored after a minute: %d messages", b.stored(t))
				}
			}
			b.down()
			for i := 250; i < 400; i++ {
				fmt.Fprintf(pw, "%q\n", fmt.Sprintf("oB%04d", i))
			}
			pw.Close()
			a := <-answered
			if a.resp == nil {
				t.Fatalf("POST /v1/broadcasts: %s", a.body)
			}
			msg := wantUnavailable(t, "POST /v1/broadcasts", a.resp, a.body)
			loc := a.resp.Header.Get("Location")
			if !strings.HasPrefix(loc, "/v1/broadcasts/") || !strings.Contains(msg, "at least 200 messages were accepted") {
				t.Fatalf("the answer does not say what was stored: Location %q, message %q", loc, msg)
			}

			// Every other route: 503 with Retry-After, never 500.
			for _, c := range []struct{ method, path, body string }{
				{"POST", "/v1/messages", messageBody(appA, "o2")},
				{"GET", "/v1/messages?appid=" + appA, ""},
				{"GET", loc, ""},
			} {
				resp, body := do(t, c.method, b.url+c.path, b.key, c.body)
				wantUnavailable(t, c.method+" "+c.path, resp, body)
			}
			if resp, body := do(t, "GET", b.url+"/readyz", "", ""); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("GET /readyz with the database away: %d %s (Retry-After %q), want 503 with Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}

			if b.up == nil {
				return
			}
			// Back: the broadcast reads aborted at once, with what was
			// stored, not accepting until the crash sweep.
			b.up()
			var got wxnotify.Broadcast
			resp, body := do(t, "GET", b.url+loc, b.key, "")
			if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil {
				t.Fatalf("GET %s once the database is back: %d %s", loc, resp.StatusCode, body)
			}
			if got.State != wxnotify.BroadcastAborted || got.Accepted != got.Total || got.Accepted < 200 || got.Accepted > 300 {
				t.Fatalf("broadcast once the database is back: state %s, accepted %d, total %d; want aborted with the stored count", got.State, got.Accepted, got.Total)
			}
			if resp, body := do(t, "POST", b.url+"/v1/messages", b.key, messageBody(appA, "o3")); resp.StatusCode != 202 {
				t.Fatalf("POST /v1/messages once the database is back: %d %s", resp.StatusCode, body)
			}
		})
	}
}
