package main_test

// Campaigns: long end-to-end runs of the real binary against the simulator
// under faults and crashes, ending in an exact accounting of every message.
// docs/campaigns.md says what each does, how to run it at full size, and
// what it found.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
	"github.com/wxnotify/wxnotify/internal/testdb"
)

var campaignFullFlag = flag.Bool("campaign.full", false, "run the campaigns at full size (also WXNOTIFY_CAMPAIGN_FULL=1)")

// campaignFull reports whether the campaigns run at full size.
func campaignFull() bool { return *campaignFullFlag || os.Getenv("WXNOTIFY_CAMPAIGN_FULL") == "1" }

// campaignPGRestartEnv, when set, is a shell command that restarts
// PostgreSQL; TestCampaign_Faults then runs it instead of cutting its own
// connections through pgProxy.
const campaignPGRestartEnv = "WXNOTIFY_CAMPAIGN_PG_RESTART"

// campaignTuning keeps retries and 45011 pauses quick, so that a campaign's
// tail is seconds, not the minutes of the production backoff. The attempts
// allowed are production's: a 45011 does not count toward them (once, when
// it did, one message met the same burst 20 times and failed).
var campaignTuning = []string{
	"WXNOTIFY_DELIVERY_MIN_BACKOFF=50ms",
	"WXNOTIFY_DELIVERY_MAX_BACKOFF=2s",
	"WXNOTIFY_DELIVERY_THROTTLE_PAUSE=50ms",
	"WXNOTIFY_LOG_LEVEL=warn",
}

// TestCampaign_Faults sends N messages (5,000; 50,000 at full size) through
// `wxnotify serve` on PostgreSQL while WeChat misbehaves in every way the
// simulator knows (5% errcode -1, bursts of 45011, a token revocation,
// latency spikes, 2% connection resets before WeChat handles the call),
// 1% of successful sends lose their answer on the way back (the proxy in
// front of the simulator closes the connection after WeChat delivered), and
// PostgreSQL goes away once mid-run. Every message must end terminal, none
// lost, none delivered twice unless reported ambiguous.
func TestCampaign_Faults(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the PostgreSQL fault campaign", testdb.PostgresEnv)
	}
	n, deadline := 5000, 3*time.Minute
	if campaignFull() {
		n, deadline = 50000, 15*time.Minute
	}
	start := time.Now()
	dsn := testdb.PostgresSchemaDSN(t)
	restartCmd := os.Getenv(campaignPGRestartEnv)
	var pg *testdb.Proxy
	serveDSN := dsn
	if restartCmd == "" {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		pg = testdb.NewProxy(t, u.Host)
		u.Host = pg.Addr()
		serveDSN = u.String()
	}
	e, sim, key, tpl := campaignSetup(t, dsn, n)
	lossy := newLossyProxy(t, sim.url, 0.01)
	e.vars = append(e.vars, campaignTuning...)
	e.vars = append(slices.DeleteFunc(e.vars, func(v string) bool {
		return strings.HasPrefix(v, "WXNOTIFY_WECHAT_URL=") || strings.HasPrefix(v, "WXNOTIFY_DB=")
	}), "WXNOTIFY_WECHAT_URL="+lossy.URL(), "WXNOTIFY_DB="+serveDSN)
	serve := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "campaign")

	const send = "/cgi-bin/message/subscribe/send"
	fault := func(f map[string]any) { f["path"] = send; simCtl(t, sim.url, "/faults", f) }
	fault(map[string]any{"errcode": -1, "probability": 0.05})
	fault(map[string]any{"reset": true, "probability": 0.02})

	// The script: each step fires once the simulator has delivered its
	// share of the messages.
	var outage time.Duration
	steps := []struct {
		at   float64
		name string
		do   func()
	}{
		{0.10, "latency up", func() { simCtl(t, sim.url, "/latency", map[string]string{"fixed": "150ms", "jitter": "100ms"}) }},
		{0.15, "45011 burst", func() { fault(map[string]any{"errcode": 45011, "count": 100}) }},
		{0.25, "latency down", func() { simCtl(t, sim.url, "/latency", map[string]string{"fixed": "2ms"}) }},
		{0.30, "token revoked", func() { simCtl(t, sim.url, "/revoke", map[string]string{"appid": demoApp}) }},
		{0.40, "45011 burst", func() { fault(map[string]any{"errcode": 45011, "count": 100}) }},
		{0.50, "PostgreSQL restart", func() {
			t0 := time.Now()
			if restartCmd != "" {
				if out, err := exec.Command("sh", "-c", restartCmd).CombinedOutput(); err != nil {
					t.Errorf("%s: %v\n%s", restartCmd, err, out)
				}
			} else {
				pg.Outage(3 * time.Second)
			}
			outage = time.Since(t0)
		}},
		{0.65, "45011 burst", func() { fault(map[string]any{"errcode": 45011, "count": 100}) }},
		{0.75, "latency up", func() { simCtl(t, sim.url, "/latency", map[string]string{"fixed": "300ms", "jitter": "200ms"}) }},
		{0.85, "latency down", func() { simCtl(t, sim.url, "/latency", map[string]string{"fixed": "2ms"}) }},
	}
	scriptDone := make(chan struct{})
	stop := make(chan struct{})
	var firedMu sync.Mutex
	var fired []string
	firedSoFar := func() []string { firedMu.Lock(); defer firedMu.Unlock(); return slices.Clone(fired) }
	go func() {
		defer close(scriptDone)
		for _, s := range steps {
			for simDelivered(t, sim.url) < int64(s.at*float64(n)) {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			s.do()
			firedMu.Lock()
			fired = append(fired, fmt.Sprintf("%s@%.0f%%", s.name, s.at*100))
			firedMu.Unlock()
		}
	}()

	campaignSubmit(t, serve.url, key, tpl, n)
	t.Logf("submitted %d messages in %v", n, time.Since(start).Round(time.Millisecond))
	waitTerminal(t, serve.url, key, start.Add(deadline), func() {
		select {
		case <-scriptDone:
		default:
			t.Errorf("fault script stuck; fired %v", firedSoFar())
		}
	})
	close(stop)
	<-scriptDone
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "0s"})
	r := campaignAccount(t, serve.url, key, sim.url, "m", n)
	var calls map[string]float64
	getJSON(t, "GET", sim.url+"/sim/calls?path="+send+"&appid="+demoApp, "", "", &calls)
	t.Logf("script: %v; database outage %v", fired, outage.Round(time.Millisecond))
	t.Logf("send calls=%v, answers lost after delivery=%d", calls["count"], lossy.dropped.Load())
	r.report(t, "TestCampaign_Faults", time.Since(start))
	if logs := serve.Stderr(); strings.Contains(logs, "giving up recording outcomes") || strings.Contains(logs, "panic") {
		t.Errorf("the service gave up or panicked:\n%s", tail(logs, 4000))
	}
	if len(fired) != len(steps) {
		t.Errorf("only %d of %d fault steps fired: %v", len(fired), len(steps), fired)
	}
}

// TestCampaign_Crash uploads one broadcast of N recipients (10,000; 100,000
// at full size) as NDJSON to `wxnotify serve` on SQLite, each carrying its
// sequence number in a data override, and SIGKILLs the service at random
// points (3 times; 5 at full size), restarting it on the same database
// each time. The first kill (two at full size) lands while the upload is
// streaming: the uploader then lists what was stored and POSTs the rest as
// a new broadcast. The other kills land while it delivers.
func TestCampaign_Crash(t *testing.T) {
	t.Parallel()
	n, uploadKills, deliveryKills, deadline := 10000, 1, 2, 3*time.Minute
	if campaignFull() {
		n, uploadKills, deliveryKills, deadline = 100000, 2, 3, 15*time.Minute
	}
	start := time.Now()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "wx.db")
	e, sim, key, tpl := campaignSetup(t, dsn, n)
	e.vars = append(e.vars, campaignTuning...)
	serveArgs := []string{"serve", "--addr", "127.0.0.1:0", "--lease", "2s"}

	var mu sync.Mutex
	cur := e.start(serveArgs...)
	gen := 0 // bumped on every restart
	current := func() (*process, int) {
		mu.Lock()
		defer mu.Unlock()
		return cur, gen
	}
	var killLog []string
	kill := func(why string) {
		p, _ := current()
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		next := e.start(serveArgs...)
		mu.Lock()
		cur, gen = next, gen+1
		mu.Unlock()
		killLog = append(killLog, why)
	}

	// The uploader: POST what is not stored yet until a POST is answered.
	var yielded atomic.Int64
	var posts int
	var postLog []string
	uploaded := make(chan error, 1)
	go func() {
		stored := map[int]bool{}
		for {
			p, g := current()
			c := client.New(p.url, key)
			posts++
			from := yielded.Load()
			res, err := c.CreateBroadcast(context.Background(), &client.BroadcastParams{
				AppID: demoApp, TemplateID: tpl, Data: map[string]string{"thing1": "-"},
			}, campaignRecipients(n, stored, &yielded))
			postLog = append(postLog, fmt.Sprintf("POST %d: %d recipients, %v %v", posts, yielded.Load()-from, res, err))
			if err == nil {
				uploaded <- nil
				return
			}
			if wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE || posts > 20 {
				uploaded <- fmt.Errorf("broadcast POST %d: %w", posts, err)
				return
			}
			// The service died under the upload: wait for the next one,
			// then read back what it stored.
			for {
				if _, g2 := current(); g2 != g {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			var ms []*wxnotify.Message
			for try := 0; ; try++ {
				p, _ = current()
				if ms, err = tryListMessages(p.url, key); err == nil || try > 100 {
					break
				}
				time.Sleep(50 * time.Millisecond) // killed again: wait for the next one
			}
			if err != nil {
				uploaded <- err
				return
			}
			clear(stored)
			for _, m := range ms {
				if i, err := strconv.Atoi(strings.TrimPrefix(m.Data["thing1"], "b")); err == nil {
					stored[i] = true
				}
			}
		}
	}()

	// The killer: kills at random points of the upload, then of delivery.
	var targets []int64
	for range uploadKills {
		targets = append(targets, int64(n/10+rand.IntN(n*8/10)))
	}
	slices.Sort(targets)
	for _, at := range targets {
		// Message ids grow by one per stored message: the newest one
		// is the server's progress (the client runs ahead of it by
		// whatever the socket buffers hold).
		stored := int64(0)
		for stored < at {
			select {
			case err := <-uploaded:
				uploaded <- err // done before this kill's turn
				stored = at
				continue
			default:
			}
			p, _ := current()
			var page struct {
				Messages []struct {
					ID int64 `json:"id"`
				} `json:"messages"`
			}
			getJSON(t, "GET", p.url+"/v1/messages?limit=1&appid="+demoApp, key, "", &page)
			if len(page.Messages) > 0 {
				stored = page.Messages[0].ID
			}
			time.Sleep(2 * time.Millisecond)
		}
		kill(fmt.Sprintf("upload with %d messages stored", stored))
	}
	targets = targets[:0]
	for range deliveryKills {
		targets = append(targets, int64(n/20+rand.IntN(n*85/100)))
	}
	slices.Sort(targets)
	for _, at := range targets {
		if !reachDelivered(t, sim.url, at, 5*time.Minute) {
			t.Fatalf("the simulator never saw %d deliveries", at)
		}
		kill(fmt.Sprintf("delivery at %d delivered", simDelivered(t, sim.url)))
	}
	if err := <-uploaded; err != nil {
		t.Fatal(err)
	}
	p, _ := current()
	waitTerminal(t, p.url, key, start.Add(deadline), nil)
	r := campaignAccount(t, p.url, key, sim.url, "b", n)
	t.Logf("kills: %v; broadcast POSTs: %d", killLog, posts)
	for _, l := range postLog {
		t.Log(l)
	}
	for _, id := range r.broadcasts {
		var b struct {
			State    string `json:"state"`
			Accepted int64  `json:"accepted"`
			Total    int64  `json:"total"`
		}
		getJSON(t, "GET", fmt.Sprintf("%s/v1/broadcasts/%d", p.url, id), key, "", &b)
		t.Logf("broadcast %d: state=%s accepted=%d messages=%d", id, b.State, b.Accepted, b.Total)
	}
	r.report(t, "TestCampaign_Crash", time.Since(start))
}

// campaignRecipients yields the recipients not in stored, recipient i
// carrying "b<i>" in thing1, counting them in yielded.
func campaignRecipients(n int, stored map[int]bool, yielded *atomic.Int64) iter.Seq2[wxnotify.BroadcastRecipient, error] {
	return func(yield func(wxnotify.BroadcastRecipient, error) bool) {
		for i := range n {
			if stored[i] {
				continue
			}
			yielded.Add(1)
			r := wxnotify.BroadcastRecipient{OpenID: fmt.Sprintf("oUSER%013d", i%loadUsers), Data: map[string]string{"thing1": fmt.Sprintf("b%d", i)}}
			if !yield(r, nil) {
				return
			}
		}
	}
}

// campaignSetup is setupLoad with room for duplicates: the simulator keeps
// every delivery, and grants twice the acceptances WeChat needs so that a
// duplicate cannot starve a later message of its grant.
func campaignSetup(t *testing.T, dsn string, n int) (e *env, sim *process, key, tpl string) {
	t.Helper()
	e = newEnv(t, dsn)
	sim = e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret, "--latency", "2ms", "--inbox-limit", strconv.Itoa(2*n/loadUsers+100))
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	key = strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "campaign", "--app", demoApp))
	tpl = simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	grantAll(t, dsn, sim.url, tpl, loadUsers, n/loadUsers)
	for u := range loadUsers {
		simCtl(t, sim.url, "/subscriptions", map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", u), "template_id": tpl, "count": n / loadUsers})
	}
	return e, sim, key, tpl
}

// campaignSubmit posts n messages from 32 producers, message i carrying
// "m<i>" and the Idempotency-Key "campaign-<i>". A producer retries a
// request that got no 202 (the database may be down) until it gets one:
// the key makes the retry safe.
func campaignSubmit(t *testing.T, apiURL, key, tpl string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	var next, retries atomic.Int64
	hc := &http.Client{Timeout: 30 * time.Second}
	for range 32 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body, _ := json.Marshal(map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", i%loadUsers),
					"template_id": tpl, "data": map[string]string{"thing1": fmt.Sprintf("m%d", i)}})
				for try := 0; ; try++ {
					req, _ := http.NewRequest("POST", apiURL+"/v1/messages", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Idempotency-Key", fmt.Sprintf("campaign-%d", i))
					resp, err := hc.Do(req)
					code := 0
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						code = resp.StatusCode
					}
					if code == http.StatusAccepted {
						break
					}
					if try > 200 || code >= 400 && code < 500 {
						t.Errorf("POST message %d: status %d %v after %d tries", i, code, err, try+1)
						return
					}
					retries.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if r := retries.Load(); r > 0 {
		t.Logf("submit: %d requests retried", r)
	}
}

// listMessages reads every message of demoApp through GET /v1/messages.
func listMessages(t *testing.T, apiURL, key string) []*wxnotify.Message {
	t.Helper()
	all, err := tryListMessages(apiURL, key)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func tryListMessages(apiURL, key string) ([]*wxnotify.Message, error) {
	var all []*wxnotify.Message
	before := int64(0)
	for {
		u := apiURL + "/v1/messages?limit=1000&appid=" + demoApp
		if before > 0 {
			u += "&before=" + strconv.FormatInt(before, 10)
		}
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		var page struct {
			Messages   []*wxnotify.Message `json:"messages"`
			NextBefore int64               `json:"next_before"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("list messages: status %d: %v", resp.StatusCode, err)
		}
		all = append(all, page.Messages...)
		if page.NextBefore == 0 {
			return all, nil
		}
		before = page.NextBefore
	}
}

// waitTerminal waits until no message of demoApp is queued, waiting for a
// credit or sending. At the deadline it calls stuck (if any) and fails.
func waitTerminal(t *testing.T, apiURL, key string, deadline time.Time, stuck func()) {
	t.Helper()
	for {
		pending := 0
		for _, st := range []string{"queued", "waiting_credit", "sending"} {
			var page struct {
				Messages []json.RawMessage `json:"messages"`
			}
			if code := getJSON(t, "GET", apiURL+"/v1/messages?limit=1&appid="+demoApp+"&state="+st, key, "", &page); code != 200 {
				pending++ // the service cannot answer (the database is restarting): not drained
				continue
			}
			pending += len(page.Messages)
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			if stuck != nil {
				stuck()
			}
			t.Fatalf("messages still pending at the deadline")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// campaignResult is the accounting of one campaign.
type campaignResult struct {
	n          int
	states     map[wxnotify.MessageState]int
	arrivals   int
	broadcasts []int64

	neverStored      int // sequence numbers with no message
	storedTwice      int // sequence numbers with more than one message
	pending          int // messages not terminal
	deliveredMissing int // reported delivered, never reached WeChat
	twice            int // reached WeChat twice, not reported ambiguous
	ambiguousTwice   int // reached WeChat twice, reported ambiguous
	ambiguousArrived int // reported ambiguous, reached WeChat once
	notSentArrived   int // reported failed/no_credit/expired/cancelled, reached WeChat
	unexpected       int // ended neither delivered nor ambiguous, though each had a credit
}

// campaignAccount lists every message, reads every delivery from the
// simulator, and matches them by the sequence number in thing1 (prefix
// followed by 0..n-1).
func campaignAccount(t *testing.T, apiURL, key, simURL, prefix string, n int) *campaignResult {
	t.Helper()
	r := &campaignResult{n: n, states: map[wxnotify.MessageState]int{}}
	bySeq := make([][]*wxnotify.Message, n)
	seen := map[int64]bool{}
	for _, m := range listMessages(t, apiURL, key) {
		r.states[m.State]++
		if m.BroadcastID != 0 && !seen[m.BroadcastID] {
			seen[m.BroadcastID] = true
			r.broadcasts = append(r.broadcasts, m.BroadcastID)
		}
		i, err := strconv.Atoi(strings.TrimPrefix(m.Data["thing1"], prefix))
		if err != nil || i < 0 || i >= n {
			t.Errorf("message %d carries no sequence number: %v", m.ID, m.Data)
			continue
		}
		bySeq[i] = append(bySeq[i], m)
	}
	slices.Sort(r.broadcasts)
	var inbox []struct {
		Data map[string]string `json:"data"`
	}
	getJSON(t, "GET", simURL+"/sim/inbox?appid="+demoApp, "", "", &inbox)
	r.arrivals = len(inbox)
	arrived := make([]int, n)
	for _, d := range inbox {
		if i, err := strconv.Atoi(strings.TrimPrefix(d.Data["thing1"], prefix)); err == nil && i >= 0 && i < n {
			arrived[i]++
		}
	}
	for i, ms := range bySeq {
		switch len(ms) {
		case 0:
			r.neverStored++
			continue
		case 1:
		default:
			r.storedTwice++
		}
		m := ms[0]
		switch got := arrived[i]; {
		case !m.State.Terminal():
			r.pending++
		case m.State == wxnotify.MessageDelivered && got == 0:
			r.deliveredMissing++
		case m.State == wxnotify.MessageDelivered && got > 1:
			r.twice++
		case m.State == wxnotify.MessageAmbiguous && got > 1:
			r.ambiguousTwice++
		case m.State == wxnotify.MessageAmbiguous && got == 1:
			r.ambiguousArrived++
		case m.State != wxnotify.MessageDelivered && m.State != wxnotify.MessageAmbiguous:
			r.unexpected++
			if got > 0 {
				r.notSentArrived++
			}
			if r.unexpected <= 5 {
				t.Logf("message %d (%s%d) ended %s: %s", m.ID, prefix, i, m.State, m.LastError)
			}
		}
	}
	return r
}

// report logs the accounting as one summary line and fails on any loss or
// unreported duplicate.
func (r *campaignResult) report(t *testing.T, name string, took time.Duration) {
	t.Helper()
	lost := r.neverStored + r.pending + r.deliveredMissing + r.notSentArrived
	t.Logf("states=%v arrivals=%d ambiguous: arrived once=%d, twice=%d", r.states, r.arrivals, r.ambiguousArrived, r.ambiguousTwice)
	summary := fmt.Sprintf("CAMPAIGN %s n=%d delivered=%d ambiguous=%d other=%d lost=%d duplicates=%d stored_twice=%d took=%v",
		name, r.n, r.states[wxnotify.MessageDelivered], r.states[wxnotify.MessageAmbiguous], r.unexpected, lost, r.twice, r.storedTwice, took.Round(time.Second))
	t.Log(summary)
	fmt.Println(summary)
	if lost > 0 {
		t.Errorf("lost: %d never stored, %d not terminal, %d reported delivered but never arrived, %d reported unsent but arrived",
			r.neverStored, r.pending, r.deliveredMissing, r.notSentArrived)
	}
	if r.twice > 0 {
		t.Errorf("%d messages reached WeChat twice without being reported ambiguous", r.twice)
	}
	if r.storedTwice > 0 {
		t.Errorf("%d recipients were stored twice", r.storedTwice)
	}
	if r.unexpected > 0 {
		t.Errorf("%d messages ended neither delivered nor ambiguous, though each had a credit", r.unexpected)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// lossyProxy stands between the service and the simulator. It forwards
// every call; for a share of the sends that WeChat accepted, it then
// closes the connection instead of answering: the message was delivered,
// and the service cannot know.
type lossyProxy struct {
	srv     *httptest.Server
	dropped atomic.Int64
}

func newLossyProxy(t *testing.T, target string, share float64) *lossyProxy {
	t.Helper()
	p := &lossyProxy{}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := hc.Do(req)
		if err != nil {
			// The simulator reset the call: so does the proxy.
			panic(http.ErrAbortHandler)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if strings.HasSuffix(r.URL.Path, "/send") && rand.Float64() < share && bytes.Contains(out, []byte(`"msgid"`)) {
			p.dropped.Add(1)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *lossyProxy) URL() string { return p.srv.URL }
