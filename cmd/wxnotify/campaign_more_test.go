package main_test

// The hardening campaigns (issue 14): an instance paused past its lease, an
// instance cut off from PostgreSQL by a network fault, PostgreSQL restarted
// and stopped under a broadcast with a webhook, an instance whose clock is
// 120 s ahead, a broadcast of 100,000 (1,000,000 at full size) recipients
// streamed in one request, and a sweep of malformed input over every route.
// docs/campaigns.md says what each does and what it measured.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/client"
	"github.com/wxnotify/wxnotify/internal/testdb"
)

// Commands that stop and start the real PostgreSQL server, for
// TestCampaign_WebhookOutage; when unset they are derived from
// WXNOTIFY_CAMPAIGN_PG_RESTART (its last word "restart" replaced).
const (
	campaignPGStopEnv  = "WXNOTIFY_CAMPAIGN_PG_STOP"
	campaignPGStartEnv = "WXNOTIFY_CAMPAIGN_PG_START"
)

// campaignRSSLimit is the peak resident set a serve process may reach in
// the broadcast and malformed-input campaigns.
const campaignRSSLimit = 200 << 20

// vmHWM returns the peak resident set of process pid so far (VmHWM of
// /proc/PID/status), in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the peak RSS: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// campaignSubmitEach posts messages from..to-1 from 32 producers, spread
// over the instances' urls, message i carrying "m<i>" and the
// Idempotency-Key "campaign-<i>", with extra(i) merged into its body (nil:
// nothing). Like campaignSubmit, a request without a 202 is retried.
func campaignSubmitEach(t *testing.T, urls []string, key, tpl string, from, to int, extra func(i int) map[string]any) {
	t.Helper()
	var wg sync.WaitGroup
	var next, retries atomic.Int64
	next.Store(int64(from))
	hc := &http.Client{Timeout: 30 * time.Second}
	for p := range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				m := map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", i%loadUsers),
					"template_id": tpl, "data": map[string]string{"thing1": fmt.Sprintf("m%d", i)}}
				if extra != nil {
					for k, v := range extra(i) {
						m[k] = v
					}
				}
				body, _ := json.Marshal(m)
				for try := 0; ; try++ {
					req, _ := http.NewRequest("POST", urls[(p+try)%len(urls)]+"/v1/messages", bytes.NewReader(body))
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
		t.Logf("submit %d..%d: %d requests retried", from, to-1, r)
	}
}

// countLog counts the lines of a process's log that contain s.
func countLog(p *process, s string) int { return strings.Count(p.Stderr(), s) }

// waitLog waits until a process's log holds more than before lines with s,
// polling its stderr (the process's own signal); false at the deadline.
func waitLog(p *process, s string, before int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for countLog(p, s) <= before {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// checkServeLogs fails the test if a service gave up recording outcomes or
// panicked.
func checkServeLogs(t *testing.T, ps ...*process) {
	t.Helper()
	for _, p := range ps {
		if logs := p.Stderr(); strings.Contains(logs, "giving up recording outcomes") || strings.Contains(logs, "panic") {
			t.Errorf("the service gave up or panicked:\n%s", tail(logs, 4000))
		}
	}
}

const recoveredLog = "messages of a lost instance recovered"

// TestCampaign_Pause runs two instances on one PostgreSQL database with a
// 2 s lease and WeChat answering in 40 ms ± 30 ms, so that hundreds of
// sends are in flight. In the middle of delivery one instance is stopped
// (SIGSTOP) until its lease has passed and the other has taken its messages
// over as lost leases, then resumed (SIGCONT): once at reduced size (5,000
// messages), three times at full size (20,000). The resumed instance must
// record nothing for the messages taken over (each is exactly as the
// takeover left it: ambiguous, same calls recorded), and no message may
// reach WeChat twice, ambiguous or not: a takeover never sends again.
func TestCampaign_Pause(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the pause campaign", testdb.PostgresEnv)
	}
	n, pauses, deadline := 5000, 1, 3*time.Minute
	if campaignFull() {
		n, pauses, deadline = 20000, 3, 15*time.Minute
	}
	const lease = 2 * time.Second
	start := time.Now()
	dsn := testdb.PostgresSchemaDSN(t)
	e, sim, key, tpl := campaignSetup(t, dsn, n)
	e.vars = append(e.vars, campaignTuning...)
	ops := strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "ops", "--app", "*"))
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "40ms", "jitter": "30ms"})
	a := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "paused", "--lease", lease.String())
	b := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "steady", "--lease", lease.String())

	// takenOver snapshots the messages taken over from the paused
	// instance: id → state and calls recorded.
	takenOver := map[int64]string{}
	snapshot := func(m *wxnotify.Message) string {
		var v messageView
		getJSON(t, "GET", fmt.Sprintf("%s/v1/messages/%d", b.url, m.ID), key, "", &v)
		return fmt.Sprintf("%s, %d calls", v.State, len(v.AttemptList))
	}
	var pauseLog []string
	var resumedAt []time.Time
	paused := make(chan struct{})
	go func() {
		defer close(paused)
		for k := range pauses {
			at := int64(n) * int64(2*k+1) / int64(2*pauses+1) / 2 // 17% at reduced size; 7%, 21%, 36% at full
			if !reachDelivered(t, sim.url, at, 3*time.Minute) {
				t.Errorf("the simulator never saw %d deliveries", at)
				return
			}
			before := countLog(b, recoveredLog)
			heldBy := delivered(t, a.url)
			t0 := time.Now()
			a.cmd.Process.Signal(syscall.SIGSTOP)
			// Past the lease, and the other instance's recovery ran twice
			// since: every lease of the paused one expired and was taken.
			ok := waitLog(b, recoveredLog, before, time.Minute)
			if !ok {
				t.Errorf("pause %d: the other instance took nothing over within a minute; PostgreSQL meanwhile:\n%s", k+1, pgActivity(t, dsn))
			}
			time.Sleep(time.Until(t0.Add(lease)))
			waitJobRuns(t, b.url, ops, "lease_recovery", 2)
			for _, m := range listMessages(t, b.url, key) {
				if _, seen := takenOver[m.ID]; !seen && strings.Contains(m.LastError, "lease of paused expired") {
					takenOver[m.ID] = snapshot(m)
				}
			}
			a.cmd.Process.Signal(syscall.SIGCONT)
			resumedAt = append(resumedAt, time.Now())
			pauseLog = append(pauseLog, fmt.Sprintf("stopped at %d delivered (%d by it) for %v, %d taken over so far",
				at, heldBy, time.Since(t0).Round(time.Millisecond), len(takenOver)))
		}
	}()
	campaignSubmit(t, b.url, key, tpl, n)
	<-paused
	waitTerminal(t, b.url, key, start.Add(deadline), nil)
	r := campaignAccount(t, b.url, key, sim.url, "m", n)

	var changed, lateTakeover int
	why := map[string]int{} // the ambiguous messages by their last error
	for _, m := range listMessages(t, b.url, key) {
		if m.State == wxnotify.MessageAmbiguous {
			why[ambiguousReason(m.LastError)]++
		}
		was, ok := takenOver[m.ID]
		if !ok {
			if strings.Contains(m.LastError, "lease of paused expired") {
				lateTakeover++ // taken over after the last resume: a message it held too long
			}
			continue
		}
		if now := snapshot(m); now != was {
			changed++
			if changed <= 5 {
				t.Logf("message %d taken over as %q, now %q: %s", m.ID, was, now, m.LastError)
			}
		}
	}
	refused := countLog(a, "outcome not recorded: lease lost")
	t.Logf("pauses: %v; ambiguous by reason: %v", pauseLog, why)
	t.Logf("taken over: %d while paused (+%d later); ambiguous arrived once %d, twice %d; the resumed instance's outcomes refused: %d; changed since the takeover: %d",
		len(takenOver), lateTakeover, r.ambiguousArrived, r.ambiguousTwice, refused, changed)
	fmt.Printf("CAMPAIGN TestCampaign_Pause taken_over=%d refused_after_resume=%d changed=%d\n", len(takenOver), refused, changed)
	r.report(t, "TestCampaign_Pause", time.Since(start))
	if len(takenOver) == 0 {
		t.Errorf("no message was taken over from the paused instance: the pause did not land mid-delivery")
	}
	if changed > 0 {
		t.Errorf("%d messages taken over changed after the paused instance resumed, want 0", changed)
	}
	if r.ambiguousTwice > 0 {
		t.Errorf("%d ambiguous messages reached WeChat twice: a takeover sent again", r.ambiguousTwice)
	}
	checkServeLogs(t, a, b)
}

// ambiguousReason shortens an ambiguous message's last error to its kind.
func ambiguousReason(lastError string) string {
	if strings.HasPrefix(lastError, "lease of ") {
		return strings.TrimSuffix(lastError, " expired") + " expired"
	}
	if i := strings.Index(lastError, " ("); i > 0 {
		lastError = lastError[:i]
	}
	return lastError[:min(len(lastError), 60)]
}

// pgActivity describes what the database's sessions are doing and waiting
// for, for a campaign that found the queue stuck.
func pgActivity(t *testing.T, dsn string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err.Error()
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(application_name, ''), state, coalesce(wait_event_type || ':' || wait_event, ''),
		coalesce(extract(epoch FROM now() - xact_start)::text, ''), coalesce(pg_blocking_pids(pid)::text, ''), left(query, 160)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY xact_start NULLS LAST`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var sb strings.Builder
	for rows.Next() {
		var pid int
		var app, state, wait, xact, blockers, query string
		if err := rows.Scan(&pid, &app, &state, &wait, &xact, &blockers, &query); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&sb, "  pid %d %s %s wait=%s xact=%ss blocked_by=%s: %s\n", pid, app, state, wait, xact, blockers, strings.Join(strings.Fields(query), " "))
	}
	return sb.String()
}

// TestCampaign_Partition runs two instances on one PostgreSQL database; one
// reaches it through a TCP proxy the test controls, which in the middle of
// delivery stops every byte both ways without closing anything (a network
// fault: queries and new connections hang, nothing is refused) for 10 s
// (30 s at full size), then lets them through again. The other instance
// keeps delivering meanwhile and takes over the leases of the cut one. The
// second half of the messages is submitted after the network is back,
// through both instances: the cut one must accept and deliver again. Every
// message ends terminal, none lost, none delivered twice unless ambiguous.
func TestCampaign_Partition(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the network partition campaign", testdb.PostgresEnv)
	}
	n, cut, deadline := 5000, 10*time.Second, 3*time.Minute
	if campaignFull() {
		n, cut, deadline = 20000, 30*time.Second, 15*time.Minute
	}
	start := time.Now()
	dsn := testdb.PostgresSchemaDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pg := testdb.NewProxy(t, u.Host)
	u.Host = pg.Addr()
	e, sim, key, tpl := campaignSetup(t, dsn, n)
	e.vars = append(e.vars, campaignTuning...)
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "40ms", "jitter": "30ms"})
	cutEnv := *e
	cutEnv.vars = append(slices.DeleteFunc(slices.Clone(e.vars), func(v string) bool { return strings.HasPrefix(v, "WXNOTIFY_DB=") }),
		"WXNOTIFY_DB="+u.String())
	a := cutEnv.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "cut", "--lease", "2s")
	b := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "steady", "--lease", "2s")

	// The first half goes in through b while the network fails under a.
	var readyDuring []int
	var aBefore int
	healed := make(chan struct{})
	go func() {
		defer close(healed)
		if !reachDelivered(t, sim.url, int64(n/10), 3*time.Minute) {
			t.Errorf("the simulator never saw %d deliveries", n/10)
			pg.Heal()
			return
		}
		aBefore = delivered(t, a.url)
		t0 := time.Now()
		pg.Partition()
		// What the cut instance says about itself meanwhile (/readyz,
		// answered within 5 s or not at all).
		hc := &http.Client{Timeout: 5 * time.Second}
		for time.Since(t0) < cut {
			code := 0
			if resp, err := hc.Get(a.url + "/readyz"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				code = resp.StatusCode
			}
			readyDuring = append(readyDuring, code)
			time.Sleep(min(time.Second, cut-time.Since(t0)))
		}
		pg.Heal()
	}()
	campaignSubmitEach(t, []string{b.url}, key, tpl, 0, n/2, nil)
	<-healed
	aHealed := delivered(t, a.url)
	campaignSubmitEach(t, []string{a.url, b.url}, key, tpl, n/2, n, nil)
	waitTerminal(t, b.url, key, start.Add(deadline), nil)
	aAfter := delivered(t, a.url)
	r := campaignAccount(t, b.url, key, sim.url, "m", n)
	var takenOver int
	why := map[string]int{}
	for _, m := range listMessages(t, b.url, key) {
		if strings.Contains(m.LastError, "lease of cut expired") {
			takenOver++
		}
		if m.State == wxnotify.MessageAmbiguous {
			why[ambiguousReason(m.LastError)]++
		}
	}
	t.Logf("network cut for %v at %d delivered by the cut instance; /readyz of the cut instance meanwhile: %v (0: no answer in 5 s); ambiguous by reason: %v",
		cut, aBefore, readyDuring, why)
	t.Logf("the cut instance delivered %d before, %d by the heal, %d in all; %d of its messages taken over; %d of its outcomes refused",
		aBefore, aHealed, aAfter, takenOver, countLog(a, "outcome not recorded: lease lost"))
	fmt.Printf("CAMPAIGN TestCampaign_Partition cut=%v taken_over=%d delivered_after_heal=%d\n", cut, takenOver, aAfter-aHealed)
	r.report(t, "TestCampaign_Partition", time.Since(start))
	if aAfter <= aHealed {
		t.Errorf("the cut instance delivered nothing after the network came back (%d before, %d after)", aHealed, aAfter)
	}
	checkServeLogs(t, a, b)
}

// TestCampaign_WebhookOutage streams one broadcast of N recipients (5,000;
// 50,000 at full size) to one instance on PostgreSQL with a webhook
// registered, and while it is delivered restarts PostgreSQL (at 25%) and
// stops it for 10 s (at 50%). By default both go through a TCP proxy the
// test owns (connections cut, new ones refused: 3 s, then 10 s); with
// WXNOTIFY_CAMPAIGN_PG_RESTART (and _STOP, _START, or derived from it) the
// real server is restarted and stopped. Every message must end terminal
// with its outcome event received by the webhook: 0 events lost.
func TestCampaign_WebhookOutage(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the webhook outage campaign", testdb.PostgresEnv)
	}
	n, deadline := 5000, 3*time.Minute
	if campaignFull() {
		n, deadline = 50000, 15*time.Minute
	}
	start := time.Now()
	dsn := testdb.PostgresSchemaDSN(t)
	restartCmd, stopCmd, startCmd := os.Getenv(campaignPGRestartEnv), os.Getenv(campaignPGStopEnv), os.Getenv(campaignPGStartEnv)
	if restartCmd != "" && (stopCmd == "" || startCmd == "") {
		base, ok := strings.CutSuffix(strings.TrimSpace(restartCmd), " restart")
		if !ok {
			t.Fatalf("%s is set: set %s and %s too (or end %s with \" restart\")", campaignPGRestartEnv, campaignPGStopEnv, campaignPGStartEnv, campaignPGRestartEnv)
		}
		stopCmd, startCmd = cmp.Or(stopCmd, base+" stop"), cmp.Or(startCmd, base+" start")
	}
	e, sim, key, tpl := campaignSetup(t, dsn, n)
	e.vars = append(e.vars, campaignTuning...)
	var pg *testdb.Proxy
	if restartCmd == "" {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		pg = testdb.NewProxy(t, u.Host)
		u.Host = pg.Addr()
		e.vars = append(slices.DeleteFunc(e.vars, func(v string) bool { return strings.HasPrefix(v, "WXNOTIFY_DB=") }), "WXNOTIFY_DB="+u.String())
	}
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "20ms", "jitter": "10ms"})
	serve := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "campaign")
	hook := newHookReceiver(t)
	registerWebhook(t, serve.url, key, hook.srv.URL)

	shell := func(c string) {
		if out, err := exec.Command("sh", "-c", c).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", c, err, out)
		}
	}
	var script []string
	uploaded := make(chan struct{})
	scriptDone := make(chan struct{})
	go func() {
		defer close(scriptDone)
		<-uploaded // the faults hit delivery, not the upload (see TestCampaign_Crash for that)
		for _, at := range []float64{0.25, 0.50} {
			if !reachDelivered(t, sim.url, int64(at*float64(n)), 3*time.Minute) {
				t.Errorf("the simulator never saw %.0f%% of the deliveries", at*100)
				return
			}
			t0, d0 := time.Now(), simDelivered(t, sim.url)
			switch {
			case at == 0.25 && pg != nil:
				pg.Outage(3 * time.Second)
			case at == 0.25:
				shell(restartCmd)
			case pg != nil:
				pg.Outage(10 * time.Second)
			default:
				shell(stopCmd)
				time.Sleep(10 * time.Second) // the outage itself: what is measured is what happens meanwhile
				shell(startCmd)
			}
			what := map[bool]string{true: "restart", false: "stop for 10 s"}[at == 0.25]
			script = append(script, fmt.Sprintf("%s at %d delivered (%v, %d delivered meanwhile)", what, d0, time.Since(t0).Round(time.Millisecond), simDelivered(t, sim.url)-d0))
		}
	}()
	c := client.New(serve.url, key)
	var yielded atomic.Int64
	res, err := c.CreateBroadcast(context.Background(), &client.BroadcastParams{
		AppID: demoApp, TemplateID: tpl, Data: map[string]string{"thing1": "-"},
	}, campaignRecipients(n, nil, &yielded))
	close(uploaded)
	if err != nil {
		t.Fatalf("broadcast of %d: %v", n, err)
	}
	uploadTook := time.Since(start)
	<-scriptDone
	scriptTook := time.Since(start)
	waitTerminal(t, serve.url, key, start.Add(deadline), nil)
	drained := time.Since(start)
	r := campaignAccount(t, serve.url, key, sim.url, "b", n)
	ms := listMessages(t, serve.url, key)
	if !hook.waitDistinct(len(ms), time.Now().Add(2*time.Minute)) {
		t.Logf("webhook events of %d of %d messages arrived", hook.distinct(), len(ms))
	}
	t.Logf("uploaded after %v, outages over after %v, queue drained after %v, events in after %v",
		uploadTook.Round(time.Millisecond), scriptTook.Round(time.Millisecond), drained.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	hook.mu.Lock()
	var lost, twice int
	for _, m := range ms {
		switch got := hook.events[m.ID]; {
		case len(got) == 0:
			lost++
		case len(got) > 1:
			twice++
		}
	}
	posts := hook.posts
	hook.mu.Unlock()
	mode := "TCP proxy"
	if pg == nil {
		mode = "real server: " + restartCmd + "; " + stopCmd + " … " + startCmd
	}
	t.Logf("broadcast %d: %d recipients; outages (%s): %v", res.ID, yielded.Load(), mode, script)
	t.Logf("webhook: %d POSTs, events of %d messages, %d lost, %d received twice", posts, len(ms)-lost, lost, twice)
	fmt.Printf("CAMPAIGN TestCampaign_WebhookOutage n=%d webhook_events_lost=%d webhook_events_twice=%d\n", n, lost, twice)
	r.report(t, "TestCampaign_WebhookOutage", time.Since(start))
	if lost > 0 {
		t.Errorf("%d outcome events lost, want 0", lost)
	}
	if len(script) != 2 {
		t.Errorf("only %d of 2 outages happened: %v", len(script), script)
	}
	checkServeLogs(t, serve)
}

// TestCampaign_ClockSkew runs two instances on one PostgreSQL database, the
// second with its clock 120 s ahead (WXNOTIFY_TEST_CLOCK_OFFSET), a 5 s
// lease, and WeChat answering 5% of sends with errcode -1 and bursting
// 45011 twice (retries and pauses computed by the skewed instance). N
// messages (3,000; 30,000 at full size) go in through both; every third
// is delayed to a send_at 3–8 s after it is submitted. No message may reach
// WeChat before its send_at (by the machine's clock, which the simulator
// and the database share), and none may end ambiguous: nothing in this
// campaign loses an answer, so an ambiguous message would be a lease
// taken over because of the skew.
func TestCampaign_ClockSkew(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the clock-skew campaign", testdb.PostgresEnv)
	}
	n, deadline := 3000, 3*time.Minute
	if campaignFull() {
		n, deadline = 30000, 15*time.Minute
	}
	start := time.Now()
	dsn := testdb.PostgresSchemaDSN(t)
	e, sim, key, tpl := campaignSetup(t, dsn, n)
	e.vars = append(e.vars, campaignTuning...)
	a := e.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "right", "--lease", "5s")
	skewed := *e
	skewed.vars = append(slices.Clone(e.vars), "WXNOTIFY_TEST_CLOCK_OFFSET=120s")
	b := skewed.start("serve", "--addr", "127.0.0.1:0", "--instance-name", "ahead", "--lease", "5s")
	const send = "/cgi-bin/message/subscribe/send"
	simCtl(t, sim.url, "/faults", map[string]any{"path": send, "errcode": -1, "probability": 0.05})
	simCtl(t, sim.url, "/latency", map[string]string{"fixed": "10ms", "jitter": "10ms"})
	bursts := make(chan struct{})
	go func() {
		defer close(bursts)
		for _, at := range []float64{0.3, 0.6} {
			if !reachDelivered(t, sim.url, int64(at*float64(n)), 3*time.Minute) {
				t.Errorf("the simulator never saw %.0f%% of the deliveries", at*100)
				return
			}
			simCtl(t, sim.url, "/faults", map[string]any{"path": send, "errcode": 45011, "count": 50})
		}
	}()

	sendAt := make([]time.Time, n)
	campaignSubmitEach(t, []string{a.url, b.url}, key, tpl, 0, n, func(i int) map[string]any {
		if i%3 != 0 {
			return nil
		}
		at := time.Now().Add(3*time.Second + time.Duration(i%50)*100*time.Millisecond).UTC().Truncate(time.Millisecond)
		sendAt[i] = at
		return map[string]any{"send_at": at.Format(time.RFC3339Nano)}
	})
	<-bursts
	waitTerminal(t, a.url, key, start.Add(deadline), nil)
	r := campaignAccount(t, a.url, key, sim.url, "m", n)
	var inbox []struct {
		Data map[string]string `json:"data"`
		At   time.Time         `json:"at"`
	}
	getJSON(t, "GET", sim.url+"/sim/inbox?appid="+demoApp, "", "", &inbox)
	var early, delayed int
	var worst time.Duration
	for _, d := range inbox {
		i, err := strconv.Atoi(strings.TrimPrefix(d.Data["thing1"], "m"))
		if err != nil || i < 0 || i >= n || sendAt[i].IsZero() {
			continue
		}
		delayed++
		if d.At.Before(sendAt[i]) {
			early++
			worst = max(worst, sendAt[i].Sub(d.At))
		}
	}
	t.Logf("delayed messages delivered: %d, early: %d (worst %v); instances delivered: right %d, ahead %d",
		delayed, early, worst, delivered(t, a.url), delivered(t, b.url))
	fmt.Printf("CAMPAIGN TestCampaign_ClockSkew n=%d early=%d ambiguous=%d\n", n, early, r.states[wxnotify.MessageAmbiguous])
	r.report(t, "TestCampaign_ClockSkew", time.Since(start))
	if early > 0 {
		t.Errorf("%d delayed messages reached WeChat before their send_at (worst by %v), want 0", early, worst)
	}
	if amb := r.states[wxnotify.MessageAmbiguous]; amb > 0 {
		t.Errorf("%d messages ended ambiguous with one clock 120 s ahead and no answer lost, want 0", amb)
	}
	if delivered(t, b.url) == 0 {
		t.Errorf("the skewed instance delivered nothing: it did not take part")
	}
	if logs := b.Stderr(); !strings.Contains(logs, "clock differs from the database's") {
		t.Errorf("the skewed instance did not warn about its clock")
	}
	checkServeLogs(t, a, b)
}

// TestCampaign_BigBroadcast streams one broadcast of N recipients (100,000;
// 1,000,000 at full size) in one request through the Go client to `wxnotify
// serve`, on SQLite and on PostgreSQL, and delivers it. The serve process's
// peak resident set (VmHWM) must stay below 200 MB, and every recipient's
// outcome is counted. At reduced size only 10 of the 100 users have credits
// (so that a CI run sends 10,000, not 100,000): the others' recipients must
// end no_credit without a call to WeChat; at full size every user has them.
func TestCampaign_BigBroadcast(t *testing.T) {
	t.Parallel()
	n, credited, deadline := 100_000, 10, 5*time.Minute
	if campaignFull() {
		n, credited, deadline = 1_000_000, loadUsers, 40*time.Minute
	}
	noCredit := func(i int) bool { return i%loadUsers >= credited }
	dbs := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "wx.db") }},
		{"postgres", func(t *testing.T) string {
			if os.Getenv(testdb.PostgresEnv) == "" {
				t.Skipf("set %s to run the broadcast campaign on PostgreSQL", testdb.PostgresEnv)
			}
			return testdb.PostgresSchemaDSN(t)
		}},
	}
	for _, db := range dbs {
		// One after the other: two at once would share the cores and the
		// time bound.
		t.Run(db.name, func(t *testing.T) {
			start := time.Now()
			dsn := db.dsn(t)
			e, sim, key, tpl := campaignSetupCredited(t, dsn, n, credited)
			e.vars = append(e.vars, campaignTuning...)
			serve := e.start("serve", "--addr", "127.0.0.1:0")
			pid := serve.cmd.Process.Pid
			idle := vmHWM(t, pid)
			setup := time.Since(start)
			var yielded atomic.Int64
			res, err := client.New(serve.url, key).CreateBroadcast(context.Background(), &client.BroadcastParams{
				AppID: demoApp, TemplateID: tpl, Data: map[string]string{"thing1": "-"},
			}, campaignRecipients(n, nil, &yielded))
			if err != nil {
				t.Fatalf("broadcast of %d recipients: %v", n, err)
			}
			upload := time.Since(start) - setup
			afterUpload := vmHWM(t, pid)
			waitTerminal(t, serve.url, key, start.Add(deadline), nil)
			drained := time.Since(start) - setup - upload
			peak := vmHWM(t, pid)
			r := campaignAccountLarge(t, serve.url, key, sim.url, "b", n, noCredit)
			t.Logf("broadcast %d: %d recipients streamed, %d accepted, state %s; setup %v, upload %v, then delivery %v",
				res.ID, yielded.Load(), res.Accepted, res.State, setup.Round(time.Second), upload.Round(time.Second), drained.Round(time.Second))
			t.Logf("serve peak RSS (VmHWM): %s idle, %s after the upload, %s after delivery", mib(idle), mib(afterUpload), mib(peak))
			fmt.Printf("CAMPAIGN TestCampaign_BigBroadcast/%s n=%d peak_rss=%s\n", db.name, n, mib(peak))
			r.report(t, "TestCampaign_BigBroadcast/"+db.name, time.Since(start))
			if res.Accepted != int64(n) {
				t.Errorf("accepted %d of %d recipients", res.Accepted, n)
			}
			if peak >= campaignRSSLimit {
				t.Errorf("serve's peak RSS %s, want below %s", mib(peak), mib(campaignRSSLimit))
			}
			checkServeLogs(t, serve)
		})
	}
}

// campaignSetupCredited is campaignSetup with credits (in the ledger and
// on WeChat's side) for the first credited users only.
func campaignSetupCredited(t *testing.T, dsn string, n, credited int) (e *env, sim *process, key, tpl string) {
	t.Helper()
	e = newEnv(t, dsn)
	sim = e.start("sim", "--addr", "127.0.0.1:0", "--app", demoApp+":"+demoSecret, "--latency", "2ms", "--inbox-limit", strconv.Itoa(2*n/loadUsers+100))
	e.vars = append(e.vars, "WXNOTIFY_WECHAT_URL="+sim.url)
	e.mustRun(demoSecret+"\n", "app", "add", demoApp)
	key = strings.TrimSpace(e.mustRun("", "apikey", "create", "--name", "campaign", "--app", demoApp))
	tpl = simCtl(t, sim.url, "/templates", map[string]any{"appid": demoApp, "title": "发货通知",
		"keywords": []map[string]string{{"key": "thing1", "name": "商品"}}})["template_id"].(string)
	grantAll(t, dsn, sim.url, tpl, credited, n/loadUsers)
	for u := range credited {
		simCtl(t, sim.url, "/subscriptions", map[string]any{"appid": demoApp, "openid": fmt.Sprintf("oUSER%013d", u), "template_id": tpl, "count": n / loadUsers})
	}
	return e, sim, key, tpl
}

// campaignAccountLarge is campaignAccount for runs too large to hold every
// message: it keeps one state and one arrival count per sequence number,
// reading the messages page by page and the simulator's inbox user by user.
// Recipients for which noCredit (if not nil) is true must end no_credit,
// never having reached WeChat; the others delivered or ambiguous.
func campaignAccountLarge(t *testing.T, apiURL, key, simURL, prefix string, n int, noCredit func(i int) bool) *campaignResult {
	t.Helper()
	r := &campaignResult{n: n, states: map[wxnotify.MessageState]int{}}
	states := make([]wxnotify.MessageState, n)
	stored := make([]uint8, n)
	seen := map[int64]bool{}
	before := int64(0)
	for {
		u := apiURL + "/v1/messages?limit=1000&appid=" + demoApp
		if before > 0 {
			u += "&before=" + strconv.FormatInt(before, 10)
		}
		var page struct {
			Messages []struct {
				ID          int64                 `json:"id"`
				State       wxnotify.MessageState `json:"state"`
				BroadcastID int64                 `json:"broadcast_id"`
				Data        map[string]string     `json:"data"`
			} `json:"messages"`
			NextBefore int64 `json:"next_before"`
		}
		if code := getJSON(t, "GET", u, key, "", &page); code != 200 {
			t.Fatalf("list messages: %d", code)
		}
		for _, m := range page.Messages {
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
			if stored[i] < 255 {
				stored[i]++
			}
			if stored[i] == 1 {
				states[i] = m.State
			}
		}
		if page.NextBefore == 0 {
			break
		}
		before = page.NextBefore
	}
	slices.Sort(r.broadcasts)
	arrived := make([]uint8, n)
	for u := range loadUsers {
		resp, err := http.Get(fmt.Sprintf("%s/sim/inbox?appid=%s&openid=oUSER%013d", simURL, demoApp, u))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bufio.NewReader(resp.Body))
		if _, err := dec.Token(); err != nil { // [
			t.Fatalf("inbox of user %d: %v", u, err)
		}
		for dec.More() {
			var d struct {
				Data map[string]string `json:"data"`
			}
			if err := dec.Decode(&d); err != nil {
				t.Fatalf("inbox of user %d: %v", u, err)
			}
			r.arrivals++
			if i, err := strconv.Atoi(strings.TrimPrefix(d.Data["thing1"], prefix)); err == nil && i >= 0 && i < n && arrived[i] < 255 {
				arrived[i]++
			}
		}
		resp.Body.Close()
	}
	for i := range n {
		switch stored[i] {
		case 0:
			r.neverStored++
			continue
		case 1:
		default:
			r.storedTwice++
		}
		switch st, got := states[i], arrived[i]; {
		case !st.Terminal():
			r.pending++
		case noCredit != nil && noCredit(i):
			if st != wxnotify.MessageNoCredit || got > 0 {
				r.unexpected++
				if got > 0 {
					r.notSentArrived++
				}
			}
		case st == wxnotify.MessageDelivered && got == 0:
			r.deliveredMissing++
		case st == wxnotify.MessageDelivered && got > 1:
			r.twice++
		case st == wxnotify.MessageAmbiguous && got > 1:
			r.ambiguousTwice++
		case st == wxnotify.MessageAmbiguous && got == 1:
			r.ambiguousArrived++
		case st != wxnotify.MessageDelivered && st != wxnotify.MessageAmbiguous:
			r.unexpected++
			if got > 0 {
				r.notSentArrived++
			}
		}
	}
	return r
}
