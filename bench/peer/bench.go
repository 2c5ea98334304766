package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// The measurement below repeats cmd/wxnotify/bench.go step for step (same simulator setup, bodies,
// producers, sampling, idle probe, bare-HTTP limit and percentiles), so the two results divide.
const (
	benchIdleN        = 50
	benchIdleGap      = 20 * time.Millisecond
	benchSampleEvery  = 100 * time.Millisecond
	benchLimitMaxTime = 30 * time.Second

	benchAppID      = "wxbe0c4000000000a1"
	benchAppSecret  = "bench-app-secret-0123456789abcdef"
	benchLimitAppID = "wxbe0c4000000000b2"
	benchTime2      = "2026-11-25 10:00"
	benchAPIKey     = "peer-bench-key"
)

// benchConfig is the flags of the bench subcommand; the shared ones mean what wxnotify bench's do.
type benchConfig struct {
	Engine      string
	PG          string
	N           int
	Users       int
	Concurrency int
	SimLatency  time.Duration
	LimitN      int
	LimitC      int
	Timeout     time.Duration
	Workers     int
	PGPool      int
	SDKPool     int
	Cooldown    time.Duration
	Poll        time.Duration
	Runs        int
	Compare     string // path of a wxnotify binary: run `wxnotify bench` with the same parameters too
	JSON        bool
	Quiet       bool
}

// benchResult has wxnotify bench's JSON field names, so `wxnotify bench --json` decodes into it.
type benchResult struct {
	System          string  `json:"system"`
	Engine          string  `json:"engine"`
	SimLatencyMS    float64 `json:"sim_latency_ms"`
	N               int     `json:"n"`
	Accepted        int     `json:"accepted"`
	Rejected        int     `json:"rejected"`
	Delivered       int64   `json:"delivered"`
	Failed          int64   `json:"failed"`
	FirstErr        string  `json:"first_error,omitempty"`
	TimedOut        bool    `json:"timed_out"`
	AcceptedPerSec  float64 `json:"accepted_per_sec"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	ElapsedSec      float64 `json:"elapsed_sec"`
	P50MS           float64 `json:"p50_ms"`
	P90MS           float64 `json:"p90_ms"`
	P99MS           float64 `json:"p99_ms"`
	MaxMS           float64 `json:"max_ms"`
	IdleP50MS       float64 `json:"idle_p50_ms"`
	IdleP99MS       float64 `json:"idle_p99_ms"`
	IdleSubmitP50MS float64 `json:"idle_submit_p50_ms"`
	IdleSubmitP99MS float64 `json:"idle_submit_p99_ms"`
	ProcessCores    float64 `json:"process_cores"`
	MachineCores    float64 `json:"machine_cores"`
	LimitClients    int     `json:"limit_clients"`
	LimitBefore     float64 `json:"limit_before_per_sec"`
	LimitAfter      float64 `json:"limit_after_per_sec"`
	LimitPerSec     float64 `json:"limit_per_sec"`
	Ratio           float64 `json:"ratio"`
	TokenFetches    int     `json:"token_fetches,omitempty"`
}

type benchRun struct {
	c       benchConfig
	stderr  io.Writer
	sim     *wechatsim.Server
	simURL  string
	tpl     string
	url     string
	client  *http.Client
	t0      time.Time
	accepts []atomic.Int64

	failed   atomic.Int64
	rejected atomic.Int64
	errMu    sync.Mutex
	firstErr string
}

// runPeerBench is one run against the peer: simulator, limit, fresh database, peer, load, idle probe, limit.
func runPeerBench(ctx context.Context, c benchConfig, stderr io.Writer) (*benchResult, error) {
	r := &benchRun{c: c, stderr: stderr}
	res := &benchResult{System: "peer", Engine: c.Engine, SimLatencyMS: ms(c.SimLatency), N: c.N, ProcessCores: -1, MachineCores: -1}
	per := (c.N+benchIdleN+c.Users-1)/c.Users + 1

	r.sim = wechatsim.New(wechatsim.Options{Latency: c.SimLatency, InboxLimit: per + 16})
	r.sim.AddApp(wechatsim.App{AppID: benchAppID, Secret: benchAppSecret})
	r.sim.AddApp(wechatsim.App{AppID: benchLimitAppID, Secret: benchAppSecret})
	r.tpl = r.sim.AddTemplateDirect(benchAppID, "订单发货通知", wechatsim.Keyword{Key: "thing1", Name: "商品名称"}, wechatsim.Keyword{Key: "time2", Name: "发货时间"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.simURL = "http://" + ln.Addr().String()
	simSrv := &http.Server{Handler: r.sim}
	go simSrv.Serve(ln)
	defer simSrv.Close()

	res.LimitClients = c.LimitC
	if res.LimitClients <= 0 {
		res.LimitClients = 64
		if c.SimLatency > 0 {
			res.LimitClients = c.Workers
		}
	}
	limit, err := r.newLimit(ctx, res.LimitClients)
	if err != nil {
		return nil, fmt.Errorf("bare-HTTP limit: %w", err)
	}
	if res.LimitBefore, err = limit.run(ctx, c.LimitN); err != nil {
		return nil, fmt.Errorf("bare-HTTP limit: %w", err)
	}
	r.logf("peer: bare-HTTP limit %.0f req/s (%d clients)", res.LimitBefore, res.LimitClients)

	pc := PeerConfig{
		Engine: c.Engine, WeChatURL: r.simURL, AppID: benchAppID, AppSecret: benchAppSecret, TemplateID: r.tpl,
		Listen: "127.0.0.1:0", APIKey: benchAPIKey, Workers: c.Workers, PGPool: c.PGPool, SDKPool: c.SDKPool,
		FetchCooldown: c.Cooldown, FetchPollInterval: c.Poll,
	}
	switch c.Engine {
	case "sqlite":
		dir, err := os.MkdirTemp("", "wxnotify-peer")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		pc.DSN = filepath.Join(dir, "river.db")
	case "postgres":
		schema := fmt.Sprintf("peerbench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
		if err := pgExec(ctx, c.PG, "CREATE SCHEMA "+schema); err != nil {
			return nil, fmt.Errorf("create schema: %w", err)
		}
		defer pgExec(context.WithoutCancel(ctx), c.PG, "DROP SCHEMA "+schema+" CASCADE")
		pc.DSN, pc.Schema = c.PG, schema
	}
	peer, err := OpenPeer(ctx, pc)
	if err != nil {
		return nil, err
	}
	// Discarded and cancelled jobs end without a delivery; count them so the wait does not hang.
	events, unsubscribe := peer.events(river.EventKindJobCancelled, river.EventKindJobFailed)
	defer unsubscribe()
	go func() {
		for ev := range events {
			if ev.Job.State == rivertype.JobStateDiscarded || ev.Job.State == rivertype.JobStateCancelled {
				r.failed.Add(1)
			}
			if len(ev.Job.Errors) > 0 {
				r.setErr("job: " + ev.Job.Errors[len(ev.Job.Errors)-1].Error)
			}
		}
	}()
	if err := peer.Open(ctx); err != nil {
		peer.Close()
		return nil, err
	}
	defer peer.Close()
	r.url = peer.URL() + "/v1/messages"
	for u := range c.Users {
		r.sim.GrantSubscribe(benchAppID, benchOpenID(u), r.tpl, per)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: c.Concurrency, MaxConnsPerHost: c.Concurrency, MaxIdleConns: 4 * c.Concurrency}
	defer tr.CloseIdleConnections()
	r.client = &http.Client{Transport: tr, Timeout: time.Minute}

	r.accepts = make([]atomic.Int64, c.N+benchIdleN)
	cpu0, mcpu0 := processCPU(), machineCPU()
	r.t0 = time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, c.Timeout)
	defer stopLoad()
	producing := make(chan struct{})
	go func() { r.produce(loadCtx); close(producing) }()
	timedOut := r.waitDelivered(loadCtx, producing)
	wall := time.Since(r.t0)
	cpu1, mcpu1 := processCPU(), machineCPU()
	<-producing
	res.TimedOut = timedOut
	if cpu0 >= 0 && cpu1 >= 0 {
		res.ProcessCores = (cpu1 - cpu0) / wall.Seconds()
	}
	if mcpu0 >= 0 && mcpu1 >= 0 {
		res.MachineCores = (mcpu1 - mcpu0) / wall.Seconds()
	}
	if !timedOut && ctx.Err() == nil {
		idle, idleSubmit := r.idleProbe(ctx)
		res.IdleP50MS, res.IdleP99MS = pct(idle, 50), pct(idle, 99)
		res.IdleSubmitP50MS, res.IdleSubmitP99MS = pct(idleSubmit, 50), pct(idleSubmit, 99)
	}
	if ctx.Err() == nil {
		if res.LimitAfter, err = limit.run(ctx, c.LimitN); err != nil {
			return nil, fmt.Errorf("bare-HTTP limit: %w", err)
		}
	}
	res.TokenFetches = r.sim.Calls(wechatsim.PathToken, benchAppID)
	r.summarize(res)
	if res.TimedOut {
		return res, fmt.Errorf("timed out after %s: %d of %d accepted messages delivered", c.Timeout, res.Delivered, res.Accepted)
	}
	return res, ctx.Err()
}

func pgExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func (r *benchRun) logf(format string, args ...any) {
	if !r.c.Quiet {
		fmt.Fprintf(r.stderr, format+"\n", args...)
	}
}

func (r *benchRun) setErr(msg string) {
	r.errMu.Lock()
	if r.firstErr == "" {
		r.firstErr = msg
	}
	r.errMu.Unlock()
}

func benchOpenID(u int) string { return fmt.Sprintf("oBENCH%012d", u) }

// messageBody is byte for byte wxnotify bench's body for message seq.
func (r *benchRun) messageBody(seq int) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"appid":"`+benchAppID+`","openid":"`...)
	b = append(b, benchOpenID(seq%r.c.Users)...)
	b = append(b, `","template_id":"`...)
	b = append(b, r.tpl...)
	b = append(b, `","data":{"thing1":"m`...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `","time2":"`+benchTime2+`"}}`...)
	return b
}

func (r *benchRun) post(ctx context.Context, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", r.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

func (r *benchRun) produce(ctx context.Context) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range r.c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if seq >= r.c.N {
					return
				}
				code, b, err := r.post(ctx, r.messageBody(seq))
				switch {
				case err != nil:
					if ctx.Err() == nil {
						r.rejected.Add(1)
						r.setErr(err.Error())
					}
				case code != http.StatusAccepted:
					r.rejected.Add(1)
					r.setErr(fmt.Sprintf("POST /v1/messages: %d %s", code, bytes.TrimSpace(b)))
				default:
					r.accepts[seq].Store(int64(time.Since(r.t0)))
				}
			}
		}()
	}
	wg.Wait()
}

func (r *benchRun) waitDelivered(ctx context.Context, producing <-chan struct{}) (timedOut bool) {
	tick := time.NewTicker(benchSampleEvery)
	defer tick.Stop()
	var lastLog time.Time
	for {
		d := r.sim.DeliveredCount(benchAppID)
		done := false
		select {
		case <-producing:
			done = true
		default:
		}
		acc := r.acceptedCount()
		if now := time.Now(); !r.c.Quiet && now.Sub(lastLog) >= time.Second {
			lastLog = now
			fmt.Fprintf(r.stderr, "peer: %5.1fs accepted %d/%d delivered %d failed %d rejected %d\n",
				now.Sub(r.t0).Seconds(), acc, r.c.N, d, r.failed.Load(), r.rejected.Load())
		}
		if done && d+r.failed.Load() >= int64(acc) {
			return false
		}
		select {
		case <-ctx.Done():
			return true
		case <-tick.C:
		}
	}
}

func (r *benchRun) acceptedCount() int {
	n := 0
	for i := range r.c.N {
		if r.accepts[i].Load() != 0 {
			n++
		}
	}
	return n
}

func (r *benchRun) idleProbe(ctx context.Context) (fromAccept, fromSubmit []time.Duration) {
	submits := make([]time.Duration, benchIdleN)
	for i := range benchIdleN {
		seq := r.c.N + i
		base := r.sim.DeliveredCount(benchAppID)
		submits[i] = time.Since(r.t0)
		code, b, err := r.post(ctx, r.messageBody(seq))
		if err != nil || code != http.StatusAccepted {
			r.setErr(fmt.Sprintf("idle probe: %d %s %v", code, bytes.TrimSpace(b), err))
			continue
		}
		r.accepts[seq].Store(int64(time.Since(r.t0)))
		deadline := time.Now().Add(5 * time.Second)
		for r.sim.DeliveredCount(benchAppID) <= base && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(benchIdleGap)
	}
	for _, d := range r.sim.AllDelivered(benchAppID) {
		if seq, ok := r.seqOf(d); ok && seq >= r.c.N && r.accepts[seq].Load() != 0 {
			at := d.At.Sub(r.t0)
			fromAccept = append(fromAccept, max(at-time.Duration(r.accepts[seq].Load()), 0))
			fromSubmit = append(fromSubmit, at-submits[seq-r.c.N])
		}
	}
	return fromAccept, fromSubmit
}

func (r *benchRun) seqOf(d wechatsim.Delivered) (int, bool) {
	v, ok := strings.CutPrefix(d.Data["thing1"], "m")
	if !ok {
		return 0, false
	}
	seq, err := strconv.Atoi(v)
	if err != nil || seq < 0 || seq >= len(r.accepts) {
		return 0, false
	}
	return seq, true
}

func (r *benchRun) summarize(res *benchResult) {
	res.Accepted = r.acceptedCount()
	res.Rejected = int(r.rejected.Load())
	res.Failed = r.failed.Load()
	res.FirstErr = r.firstErr
	var firstAccept, lastAccept time.Duration = math.MaxInt64, 0
	for i := range r.c.N {
		if a := time.Duration(r.accepts[i].Load()); a != 0 {
			firstAccept, lastAccept = min(firstAccept, a), max(lastAccept, a)
		}
	}
	if lastAccept > 0 {
		res.AcceptedPerSec = float64(res.Accepted) / lastAccept.Seconds()
	}
	var lat []time.Duration
	var lastDelivery time.Duration
	for _, d := range r.sim.AllDelivered(benchAppID) {
		seq, ok := r.seqOf(d)
		if !ok || seq >= r.c.N {
			continue
		}
		at := d.At.Sub(r.t0)
		lastDelivery = max(lastDelivery, at)
		if a := time.Duration(r.accepts[seq].Load()); a != 0 {
			lat = append(lat, max(at-a, 0))
		}
	}
	res.Delivered = int64(len(lat))
	if lastDelivery > firstAccept && res.Delivered > 0 {
		res.ElapsedSec = (lastDelivery - firstAccept).Seconds()
		res.DeliveredPerSec = float64(res.Delivered) / res.ElapsedSec
	}
	res.P50MS, res.P90MS, res.P99MS, res.MaxMS = pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 100)
	res.LimitPerSec = res.LimitBefore
	if res.LimitAfter > 0 {
		res.LimitPerSec = (res.LimitBefore + res.LimitAfter) / 2
	}
	if res.LimitPerSec > 0 {
		res.Ratio = res.DeliveredPerSec / res.LimitPerSec
	}
}

func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return ms(s[max(0, min(i, len(s)-1))])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// benchLimit is the bare-HTTP anchor, as in wxnotify bench.
type benchLimit struct {
	url    string
	bodies [][]byte
	client *http.Client
	c      int
}

func (r *benchRun) newLimit(ctx context.Context, clients int) (*benchLimit, error) {
	tpl := r.sim.AddTemplateDirect(benchLimitAppID, "订单发货通知",
		wechatsim.Keyword{Key: "thing1", Name: "商品名称"}, wechatsim.Keyword{Key: "time2", Name: "发货时间"})
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	req, err := http.NewRequestWithContext(ctx, "GET", r.simURL+wechatsim.PathToken+"?grant_type=client_credential&appid="+benchLimitAppID+"&secret="+benchAppSecret, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		return nil, fmt.Errorf("simulator token: %v", err)
	}
	l := &benchLimit{url: r.simURL + wechatsim.PathSubscribeSend + "?access_token=" + tok.AccessToken, client: cl, c: clients}
	for i := range 64 {
		openid := fmt.Sprintf("oLIMIT%012d", i)
		r.sim.GrantSubscribe(benchLimitAppID, openid, tpl, 1<<40)
		l.bodies = append(l.bodies, []byte(`{"touser":"`+openid+`","template_id":"`+tpl+`","page":"pages/index","data":{"thing1":{"value":"Order shipped"},"time2":{"value":"`+benchTime2+`"}}}`))
	}
	return l, nil
}

func (l *benchLimit) run(ctx context.Context, n int) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, benchLimitMaxTime)
	defer cancel()
	var next, done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := range l.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := l.bodies[i%len(l.bodies)]
			for ctx.Err() == nil && next.Add(1) <= int64(n) {
				req, _ := http.NewRequestWithContext(ctx, "POST", l.url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := l.client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err.Error())
					}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !bytes.HasPrefix(b, []byte(`{"errcode":0,`)) {
					firstErr.CompareAndSwap(nil, "simulator answered "+string(b))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if e := firstErr.Load(); e != nil {
		return 0, errors.New(e.(string))
	}
	if done.Load() == 0 {
		return 0, fmt.Errorf("no request completed")
	}
	return float64(done.Load()) / el.Seconds(), nil
}

func processCPU() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (ut + st) / 100
}

func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return -1
	}
	var busy float64
	for i, v := range f[1:] {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return -1
		}
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += x
	}
	return busy / 100
}
