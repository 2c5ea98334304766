package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
	"github.com/wxnotify/wxnotify/token"
	"github.com/wxnotify/wxnotify/wechatsim"
)

// Defaults of wxnotify bench.
const (
	DefaultBenchN           = 20000
	DefaultBenchUsers       = 1000
	DefaultBenchConcurrency = 64
	DefaultBenchLimitN      = 50000
	DefaultBenchTimeout     = 3 * time.Minute
	DefaultBenchPG          = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	// benchIdleN messages are sent one at a time, benchIdleGap apart, after
	// the load: the idle accept→delivered latency.
	benchIdleN   = 50
	benchIdleGap = 20 * time.Millisecond
	// benchSampleEvery is how often the simulator's delivered count is sampled.
	benchSampleEvery = 100 * time.Millisecond
	// benchLimitMaxTime bounds each bare-HTTP limit measurement.
	benchLimitMaxTime = 30 * time.Second
)

// The bench's apps in the simulator: one for wxnotify, one for the bare
// HTTP limit, so the two counts never mix.
const (
	benchAppID      = "wxbe0c4000000000a1"
	benchAppSecret  = "bench-app-secret-0123456789abcdef"
	benchLimitAppID = "wxbe0c4000000000b2"
	benchTime2      = "2026-11-25 10:00"
)

// benchConfig is the flags of wxnotify bench.
type benchConfig struct {
	Engine      string
	PG          string
	Instances   int
	N           int
	Users       int
	Concurrency int
	SimLatency  time.Duration
	LimitN      int
	LimitC      int
	Timeout     time.Duration
	Broadcast   bool
	BcastSize   int
	Chart       string
	CPUProfile  string
	Senders     int     // pipeline senders per instance (0: delivery default)
	AppRate     float64 // sends/s per app per instance; 0: unlimited
	Quiet       bool    // no progress lines
}

// benchResult is what one run measured; --json prints it.
type benchResult struct {
	Engine       string  `json:"engine"`
	Instances    int     `json:"instances"`
	SimLatencyMS float64 `json:"sim_latency_ms"`
	N            int     `json:"n"`
	Users        int     `json:"users"`
	Concurrency  int     `json:"concurrency"`
	Mode         string  `json:"mode"` // "messages" or "broadcasts"

	Accepted  int    `json:"accepted"`
	Rejected  int    `json:"rejected"`
	Delivered int64  `json:"delivered"`
	Failed    int64  `json:"failed"` // terminal but not delivered (no_credit, failed…)
	FirstErr  string `json:"first_error,omitempty"`
	TimedOut  bool   `json:"timed_out"`

	AcceptedPerSec  float64 `json:"accepted_per_sec"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	ElapsedSec      float64 `json:"elapsed_sec"` // first accept → last delivery
	P50MS           float64 `json:"p50_ms"`
	P90MS           float64 `json:"p90_ms"`
	P99MS           float64 `json:"p99_ms"`
	MaxMS           float64 `json:"max_ms"`
	IdleP50MS       float64 `json:"idle_p50_ms"`
	IdleP99MS       float64 `json:"idle_p99_ms"`
	// IdleSubmit* count from the idle request's start, so they include
	// the accept itself.
	IdleSubmitP50MS float64 `json:"idle_submit_p50_ms"`
	IdleSubmitP99MS float64 `json:"idle_submit_p99_ms"`

	// CPU is cores used on average during the load (process: wxnotify,
	// the simulator and the load generator together; machine: everything,
	// including PostgreSQL's backends). -1: not measurable here.
	ProcessCores float64 `json:"process_cores"`
	MachineCores float64 `json:"machine_cores"`

	LimitClients     int     `json:"limit_clients"`
	LimitBefore      float64 `json:"limit_before_per_sec"`
	LimitAfter       float64 `json:"limit_after_per_sec"`
	LimitPerSec      float64 `json:"limit_per_sec"` // mean of before and after
	Ratio            float64 `json:"ratio"`         // delivered/s ÷ limit
	RatioBeforeOnly  float64 `json:"ratio_before"`  // delivered/s ÷ limit measured first
	Chart            string  `json:"chart,omitempty"`
	CPUProfile       string  `json:"cpuprofile,omitempty"`
	BroadcastSkipped string  `json:"broadcast_skipped,omitempty"`
}

func newBenchCommand(g *globals) *cobra.Command {
	c := benchConfig{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure delivery throughput and latency against the built-in simulator, next to the bare-HTTP limit",
		Long: "Run a load test in one process, on loopback only: a WeChat simulator, a fresh database and --instances\n" +
			"wxnotify instances (each with its own HTTP listener). It first measures the bare-HTTP limit (the\n" +
			"simplest Go client POSTing subscribe sends straight to the simulator), then sends --n messages through\n" +
			"POST /v1/messages from --concurrency producers, waits until the simulator has delivered them all, and\n" +
			"sends " + strconv.Itoa(benchIdleN) + " single messages one at a time for the idle latency; the limit is measured again at the end.\n" +
			"It prints accepted/s, delivered/s (first accept → last delivery), accept→delivered percentiles, CPU\n" +
			"use, the limit and the ratio delivered/s ÷ limit. --db is ignored: the database is always fresh.",
		Example: "  wxnotify bench --n 50000\n" +
			"  wxnotify bench --engine postgres --instances 2 --sim-latency 50ms --chart pg.svg --json",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.validate(); err != nil {
				return usageError{err}
			}
			lvl := "warn"
			if cmd.Flags().Changed("log-level") {
				lvl = g.logLevel
			}
			res, err := runBench(cmd.Context(), g, c, lvl)
			if res != nil {
				if g.json {
					enc := json.NewEncoder(g.env.Stdout)
					enc.SetIndent("", "  ")
					if jerr := enc.Encode(res); jerr != nil {
						return jerr
					}
				} else {
					printBench(g.env.Stdout, res)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Engine, "engine", "sqlite", "database: sqlite (a temporary file) or postgres (a fresh schema in --pg, dropped at the end)")
	f.StringVar(&c.PG, "pg", DefaultBenchPG, "PostgreSQL DSN for --engine postgres")
	f.IntVar(&c.Instances, "instances", 1, "wxnotify instances sharing the database (PostgreSQL only for more than 1)")
	f.IntVarP(&c.N, "n", "n", DefaultBenchN, "messages to send")
	f.IntVar(&c.Users, "users", DefaultBenchUsers, "distinct recipients; each gets enough subscribe acceptances")
	f.IntVar(&c.Concurrency, "concurrency", DefaultBenchConcurrency, "producer goroutines (requests in flight), spread over the instances")
	f.DurationVar(&c.SimLatency, "sim-latency", 0, "fixed latency the simulator adds to every WeChat call")
	f.IntVar(&c.LimitN, "limit-n", DefaultBenchLimitN, "requests per bare-HTTP limit measurement (each also stops after 30s)")
	f.IntVar(&c.LimitC, "limit-c", 0, "clients of the bare-HTTP limit (0: 64 without --sim-latency, else the pipelines' senders in all)")
	f.DurationVar(&c.Timeout, "timeout", DefaultBenchTimeout, "give up waiting for deliveries after this long")
	f.BoolVar(&c.Broadcast, "broadcast", false, "send through POST /v1/broadcasts in chunks of --broadcast-size (skipped if the route is absent)")
	f.IntVar(&c.BcastSize, "broadcast-size", 1000, "recipients per broadcast request (at most --users)")
	f.StringVar(&c.Chart, "chart", "", "write an SVG chart of accepted/s and delivered/s over time to this file")
	f.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the load phase (accept to last delivery) to this file")
	f.IntVar(&c.Senders, "senders", 0, fmt.Sprintf("sends in flight per instance (0: the default, %d)", delivery.DefaultConcurrency))
	f.Float64Var(&c.AppRate, "app-rate", 0, fmt.Sprintf("sends/s per app per instance (0: unlimited; serve's default is %d)", delivery.DefaultAppRate))
	f.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	return cmd
}

func (c *benchConfig) validate() error {
	switch c.Engine {
	case "sqlite":
		if c.Instances > 1 {
			return fmt.Errorf("--instances %d: SQLite supports one instance (one writer per database file); use --engine postgres", c.Instances)
		}
	case "postgres":
	default:
		return fmt.Errorf("--engine %q: want sqlite or postgres", c.Engine)
	}
	switch {
	case c.Instances < 1:
		return fmt.Errorf("--instances must be at least 1")
	case c.N < 1:
		return fmt.Errorf("--n must be at least 1")
	case c.Users < 1:
		return fmt.Errorf("--users must be at least 1")
	case c.Concurrency < 1:
		return fmt.Errorf("--concurrency must be at least 1")
	case c.LimitN < 1:
		return fmt.Errorf("--limit-n must be at least 1")
	case c.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive")
	case c.Broadcast && (c.BcastSize < 1 || c.BcastSize > c.Users):
		return fmt.Errorf("--broadcast-size must be between 1 and --users (%d): a broadcast names each recipient once", c.Users)
	}
	return nil
}

// benchRun is the state of one run.
type benchRun struct {
	g      *globals
	c      benchConfig
	stderr io.Writer

	sim     *wechatsim.Server
	simURL  string
	tpl     string
	key     string
	urls    []string
	client  *http.Client
	t0      time.Time
	accepts []atomic.Int64 // per message: ns after t0 when its 202 arrived; 0: not accepted

	failed   atomic.Int64
	failMu   sync.Mutex
	failWhy  string
	rejected atomic.Int64
	errMu    sync.Mutex
	firstErr string
}

func runBench(ctx context.Context, g *globals, c benchConfig, logLevel string) (*benchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &benchRun{g: g, c: c, stderr: g.env.Stderr}
	res := &benchResult{
		Engine: c.Engine, Instances: c.Instances, SimLatencyMS: ms(c.SimLatency), N: c.N, Users: c.Users,
		Concurrency: c.Concurrency, Mode: "messages", ProcessCores: -1, MachineCores: -1,
	}
	per := (c.N+benchIdleN+c.Users-1)/c.Users + 1 // acceptances per user, with one to spare

	// The simulator, on loopback.
	r.sim = wechatsim.New(wechatsim.Options{Latency: c.SimLatency, InboxLimit: per + 16})
	r.sim.AddApp(wechatsim.App{AppID: benchAppID, Secret: benchAppSecret})
	r.sim.AddApp(wechatsim.App{AppID: benchLimitAppID, Secret: benchAppSecret})
	kws := []wechatsim.Keyword{{Key: "thing1", Name: "商品名称"}, {Key: "time2", Name: "发货时间"}}
	r.tpl = r.sim.AddTemplateDirect(benchAppID, "订单发货通知", kws...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r.simURL = "http://" + ln.Addr().String()
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	simDone := make(chan error, 1)
	go func() { simDone <- serveUntilDone(simCtx, ln, r.sim) }()
	defer func() { stopSim(); <-simDone }()

	// The bare-HTTP limit, first.
	res.LimitClients = c.LimitC
	if res.LimitClients <= 0 {
		res.LimitClients = 64
		if c.SimLatency > 0 {
			res.LimitClients = c.Instances * cmpOr(c.Senders, delivery.DefaultConcurrency)
		}
	}
	r.logf("bench: measuring the bare-HTTP limit (%d requests, %d clients, sim latency %s)", c.LimitN, res.LimitClients, c.SimLatency)
	limit, err := r.newLimit(ctx, res.LimitClients)
	if err != nil {
		return nil, fmt.Errorf("bare-HTTP limit: %w", err)
	}
	if res.LimitBefore, err = limit.run(ctx, c.LimitN); err != nil {
		return nil, fmt.Errorf("bare-HTTP limit: %w", err)
	}
	r.logf("bench: bare-HTTP limit %.0f req/s", res.LimitBefore)

	// A fresh database, and the instances over it.
	dsn, dropDB, err := r.freshDB(ctx)
	if err != nil {
		return nil, err
	}
	defer dropDB()
	ig := &globals{
		env: &Env{Stdout: io.Discard, Stderr: g.env.Stderr, Getenv: benchGetenv(r.simURL, seal.GenerateKey())},
		db:  dsn, logLevel: logLevel,
	}
	stores := make([]store.Driver, c.Instances)
	for i := range stores {
		st, err := storeopen.Open(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		defer st.Close()
		stores[i] = st
	}
	if err := r.seed(ctx, ig, stores[0], per); err != nil {
		return nil, err
	}
	appRate := c.AppRate
	if appRate <= 0 {
		appRate = math.MaxFloat64 // rate.Inf
	}
	instCtx, stopInstances := context.WithCancel(context.WithoutCancel(ctx))
	var instWG sync.WaitGroup
	defer func() { stopInstances(); instWG.Wait() }()
	ready := make(chan string, c.Instances)
	instErr := make(chan error, c.Instances)
	for i, st := range stores {
		in, err := ig.newInstance(st, instanceOptions{
			Addr: "127.0.0.1:0", Concurrency: c.Senders, AppRate: appRate, Holder: fmt.Sprintf("bench-%d", i),
		})
		if err != nil {
			return nil, err
		}
		counted := in.queue.OnEnd
		in.queue.OnEnd = func(e queue.Ended) { counted(e); r.outcome(e) }
		instWG.Add(1)
		go func() {
			defer instWG.Done()
			if err := in.run(instCtx, func(u string) { ready <- u }); err != nil {
				instErr <- err
			}
		}()
	}
	for range c.Instances {
		select {
		case u := <-ready:
			r.urls = append(r.urls, u)
		case err := <-instErr:
			return nil, fmt.Errorf("start instance: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: c.Concurrency, MaxConnsPerHost: c.Concurrency, MaxIdleConns: 4 * c.Concurrency}
	defer tr.CloseIdleConnections()
	r.client = &http.Client{Transport: tr, Timeout: time.Minute}

	if c.Broadcast {
		if why := r.probeBroadcast(ctx); why != "" {
			res.BroadcastSkipped = why
			r.logf("bench: --broadcast skipped: %s; sending single messages", why)
		} else {
			res.Mode = "broadcasts"
		}
	}

	// The load.
	r.accepts = make([]atomic.Int64, c.N+benchIdleN)
	var stopProf func()
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stopProf = func() { pprof.StopCPUProfile(); f.Close() }
		defer func() {
			if stopProf != nil {
				stopProf()
			}
		}()
		res.CPUProfile = c.CPUProfile
	}
	cpu0, mcpu0 := processCPU(), machineCPU()
	r.t0 = time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, c.Timeout)
	defer stopLoad()
	var produced sync.WaitGroup
	produced.Add(1)
	go func() {
		defer produced.Done()
		if res.Mode == "broadcasts" {
			r.produceBroadcasts(loadCtx)
		} else {
			r.produce(loadCtx)
		}
	}()
	producing := make(chan struct{})
	go func() { produced.Wait(); close(producing) }()
	samples, timedOut := r.waitDelivered(loadCtx, producing)
	wall := time.Since(r.t0)
	cpu1, mcpu1 := processCPU(), machineCPU()
	if stopProf != nil {
		stopProf()
		stopProf = nil
	}
	<-producing
	res.TimedOut = timedOut
	if cpu0 >= 0 && cpu1 >= 0 {
		res.ProcessCores = (cpu1 - cpu0) / wall.Seconds()
	}
	if mcpu0 >= 0 && mcpu1 >= 0 {
		res.MachineCores = (mcpu1 - mcpu0) / wall.Seconds()
	}

	// Idle latency: one message at a time.
	if !timedOut && ctx.Err() == nil {
		r.logf("bench: idle probe (%d single messages, %s apart)", benchIdleN, benchIdleGap)
		idle, idleSubmit := r.idleProbe(ctx)
		res.IdleP50MS, res.IdleP99MS = pct(idle, 50), pct(idle, 99)
		res.IdleSubmitP50MS, res.IdleSubmitP99MS = pct(idleSubmit, 50), pct(idleSubmit, 99)
	}

	// The limit again, now that the machine is as warm as it gets.
	if ctx.Err() == nil {
		if res.LimitAfter, err = limit.run(ctx, c.LimitN); err != nil {
			return nil, fmt.Errorf("bare-HTTP limit: %w", err)
		}
		r.logf("bench: bare-HTTP limit after %.0f req/s", res.LimitAfter)
	}

	r.summarize(res)
	if c.Chart != "" {
		if err := os.WriteFile(c.Chart, r.chartSVG(res, samples), 0o644); err != nil {
			return res, fmt.Errorf("write chart: %w", err)
		}
		res.Chart = c.Chart
	}
	if res.TimedOut {
		return res, fmt.Errorf("timed out after %s: %d of %d accepted messages delivered", c.Timeout, res.Delivered, res.Accepted)
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, nil
}

func benchGetenv(simURL, key string) func(string) string {
	return func(k string) string {
		switch k {
		case "WXNOTIFY_WECHAT_URL":
			return simURL
		case seal.EnvKey:
			return key
		}
		return ""
	}
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

// outcome counts messages that end without being delivered.
func (r *benchRun) outcome(o queue.Ended) {
	if o.State == wxnotify.MessageDelivered {
		return
	}
	r.failed.Add(1)
	r.failMu.Lock()
	if r.failWhy == "" {
		r.failWhy = string(o.State)
		if o.Message != nil && o.Message.LastError != "" {
			r.failWhy += ": " + o.Message.LastError
		} else if o.Attempt != nil {
			r.failWhy += ": " + o.Attempt.ErrMsg
		}
	}
	r.failMu.Unlock()
}

// freshDB returns the DSN of an empty database and how to remove it.
func (r *benchRun) freshDB(ctx context.Context) (string, func(), error) {
	if r.c.Engine == "sqlite" {
		dir, err := os.MkdirTemp("", "wxnotify-bench")
		if err != nil {
			return "", nil, err
		}
		return storeopen.SQLitePrefix + filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
	}
	schema := fmt.Sprintf("wxbench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	if err := pgExec(ctx, r.c.PG, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create schema on --pg %s: %w", redactDSN(r.c.PG), err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pgExec(dctx, r.c.PG, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			fmt.Fprintf(r.stderr, "bench: drop schema %s: %v\n", schema, err)
		}
	}
	if u, err := url.Parse(r.c.PG); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), drop, nil
	}
	drop()
	return "", nil, fmt.Errorf("--pg must be a postgres:// URL")
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

// seed registers the app and an API key, and gives every user per
// subscribe acceptances in the simulator and in the ledger.
func (r *benchRun) seed(ctx context.Context, ig *globals, st store.Driver, per int) error {
	box, err := ig.box()
	if err != nil {
		return err
	}
	if err := (&token.AppService{Store: st, Box: box}).CreateApp(ctx, &wxnotify.App{
		AppID: benchAppID, Name: "bench", Secret: wxnotify.Secret(benchAppSecret),
	}); err != nil {
		return fmt.Errorf("create app: %w", err)
	}
	r.key, err = (&apikey.Service{Store: st}).CreateAPIKey(ctx, &wxnotify.APIKey{Name: "bench", Apps: []string{benchAppID}})
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	now := time.Now()
	const chunk = 5000
	batch := make([]*store.CreditInsertParams, 0, chunk)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := st.CreditInsertBatch(ctx, batch); err != nil {
			return fmt.Errorf("seed credits: %w", err)
		}
		batch = batch[:0]
		return nil
	}
	for u := range r.c.Users {
		openID := benchOpenID(u)
		r.sim.GrantSubscribe(benchAppID, openID, r.tpl, per)
		for range per {
			batch = append(batch, &store.CreditInsertParams{
				AppID: benchAppID, OpenID: openID, Kind: string(wxnotify.CreditSubscribe), TemplateID: r.tpl,
				Uses: 1, ObtainedAt: now, Source: "bench",
			})
			if len(batch) == chunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

func benchOpenID(u int) string { return fmt.Sprintf("oBENCH%012d", u) }

// messageBody is message seq's POST /v1/messages body.
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

// post sends one request to the API and returns its status and body.
func (r *benchRun) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, err
}

// produce sends messages 0..n-1 from the producers, each producer bound to
// one instance.
func (r *benchRun) produce(ctx context.Context) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := range r.c.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := r.urls[p%len(r.urls)] + "/v1/messages"
			for ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if seq >= r.c.N {
					return
				}
				code, b, err := r.post(ctx, url, r.messageBody(seq))
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

// probeBroadcast returns why broadcasts cannot be used, or "".
func (r *benchRun) probeBroadcast(ctx context.Context) string {
	code, b, err := r.post(ctx, r.urls[0]+"/v1/broadcasts", []byte(`{}`))
	switch {
	case err != nil:
		return err.Error()
	case code == http.StatusNotFound && bytes.Contains(b, []byte("no route")):
		return "this build has no POST /v1/broadcasts"
	case code == http.StatusServiceUnavailable:
		return "POST /v1/broadcasts is not wired in this build: " + string(bytes.TrimSpace(b))
	}
	return ""
}

// broadcastBody is the broadcast of messages first .. first+size-1: one
// recipient each, whose data override carries its own seq.
func (r *benchRun) broadcastBody(first, size int) []byte {
	b := make([]byte, 0, 128+size*64)
	b = append(b, `{"appid":"`+benchAppID+`","template_id":"`...)
	b = append(b, r.tpl...)
	b = append(b, `","data":{"thing1":"m","time2":"`+benchTime2+`"},"recipients":[`...)
	for i := range size {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"openid":"`...)
		b = append(b, benchOpenID((first+i)%r.c.Users)...)
		b = append(b, `","data":{"thing1":"m`...)
		b = strconv.AppendInt(b, int64(first+i), 10)
		b = append(b, `"}}`...)
	}
	b = append(b, "]}"...)
	return b
}

// produceBroadcasts sends the n messages as broadcasts of --broadcast-size.
func (r *benchRun) produceBroadcasts(ctx context.Context) {
	size := r.c.BcastSize
	chunks := (r.c.N + size - 1) / size
	var next atomic.Int64
	var wg sync.WaitGroup
	for p := range min(r.c.Concurrency, chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := r.urls[p%len(r.urls)] + "/v1/broadcasts"
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= chunks {
					return
				}
				first := k * size
				n := min(size, r.c.N-first)
				code, b, err := r.post(ctx, url, r.broadcastBody(first, n))
				switch {
				case err != nil:
					if ctx.Err() == nil {
						r.rejected.Add(int64(n))
						r.setErr(err.Error())
					}
				case code/100 != 2:
					r.rejected.Add(int64(n))
					r.setErr(fmt.Sprintf("POST /v1/broadcasts: %d %s", code, bytes.TrimSpace(b)))
				default:
					at := int64(time.Since(r.t0))
					for i := range n {
						r.accepts[first+i].Store(at)
					}
				}
			}
		}()
	}
	wg.Wait()
}

type benchSample struct {
	At        time.Duration // after t0
	Delivered int64
}

// waitDelivered samples the delivered count until every accepted message
// is delivered or has ended otherwise, or ctx ends (timedOut).
func (r *benchRun) waitDelivered(ctx context.Context, producing <-chan struct{}) (samples []benchSample, timedOut bool) {
	tick := time.NewTicker(benchSampleEvery)
	defer tick.Stop()
	lastLog := time.Time{}
	done := false
	for {
		d := r.sim.DeliveredCount(benchAppID)
		now := time.Now()
		samples = append(samples, benchSample{At: now.Sub(r.t0), Delivered: d})
		select {
		case <-producing:
			done = true
		default:
		}
		acc := r.acceptedCount()
		if !r.c.Quiet && (now.Sub(lastLog) >= time.Second || done && d+r.failed.Load() >= int64(acc)) {
			lastLog = now
			rate := 0.0
			if len(samples) > 10 {
				prev := samples[len(samples)-11]
				rate = float64(d-prev.Delivered) / (now.Sub(r.t0) - prev.At).Seconds()
			}
			fmt.Fprintf(r.stderr, "bench: %5.1fs accepted %d/%d delivered %d failed %d rejected %d (%.0f/s)\n",
				now.Sub(r.t0).Seconds(), acc, r.c.N, d, r.failed.Load(), r.rejected.Load(), rate)
		}
		if done && d+r.failed.Load() >= int64(acc) {
			return samples, false
		}
		select {
		case <-ctx.Done():
			return samples, true
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

// idleProbe sends benchIdleN messages one at a time, each after the
// previous was delivered and benchIdleGap passed, and returns their
// accept→delivered latencies, and the request→delivered ones (with the
// accept itself).
func (r *benchRun) idleProbe(ctx context.Context) (fromAccept, fromSubmit []time.Duration) {
	submits := make([]time.Duration, benchIdleN)
	for i := range benchIdleN {
		seq := r.c.N + i
		base := r.sim.DeliveredCount(benchAppID)
		url := r.urls[i%len(r.urls)] + "/v1/messages"
		submits[i] = time.Since(r.t0)
		code, b, err := r.post(ctx, url, r.messageBody(seq))
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

// seqOf returns which message a delivery was, from its thing1 "m<seq>".
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

// summarize fills the rates and percentiles.
func (r *benchRun) summarize(res *benchResult) {
	res.Accepted = r.acceptedCount()
	res.Rejected = int(r.rejected.Load())
	res.Failed = r.failed.Load()
	res.FirstErr = r.firstErr
	if r.failWhy != "" && res.FirstErr == "" {
		res.FirstErr = r.failWhy
	}
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
			// A send can finish before its 202 reaches the client.
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
	if res.LimitBefore > 0 {
		res.RatioBeforeOnly = res.DeliveredPerSec / res.LimitBefore
	}
}

// pct returns the p-th percentile (nearest rank) in milliseconds; 0 when
// there is nothing.
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

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func printBench(w io.Writer, r *benchResult) {
	fmt.Fprintf(w, "engine %s, %d instance(s), sim latency %gms, %d messages (%s) to %d users, %d producers\n",
		r.Engine, r.Instances, r.SimLatencyMS, r.N, r.Mode, r.Users, r.Concurrency)
	if r.BroadcastSkipped != "" {
		fmt.Fprintf(w, "  broadcast skipped:  %s\n", r.BroadcastSkipped)
	}
	fmt.Fprintf(w, "  accepted            %d (%d rejected), %.0f/s\n", r.Accepted, r.Rejected, r.AcceptedPerSec)
	fmt.Fprintf(w, "  delivered           %d (%d ended otherwise), %.0f/s over %.2fs (first accept → last delivery)\n",
		r.Delivered, r.Failed, r.DeliveredPerSec, r.ElapsedSec)
	fmt.Fprintf(w, "  accept→delivered    p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
	fmt.Fprintf(w, "  idle (%d single)    p50 %.2fms  p99 %.2fms  (from the request's start: p50 %.2fms  p99 %.2fms)\n",
		benchIdleN, r.IdleP50MS, r.IdleP99MS, r.IdleSubmitP50MS, r.IdleSubmitP99MS)
	fmt.Fprintf(w, "  CPU                 process %s cores, machine %s cores\n", cores(r.ProcessCores), cores(r.MachineCores))
	fmt.Fprintf(w, "  bare-HTTP limit     %.0f req/s (before %.0f, after %.0f; %d clients)\n", r.LimitPerSec, r.LimitBefore, r.LimitAfter, r.LimitClients)
	fmt.Fprintf(w, "  ratio               %.0f%% of the limit (%.0f%% of the limit measured first)\n", 100*r.Ratio, 100*r.RatioBeforeOnly)
	if r.FirstErr != "" {
		fmt.Fprintf(w, "  first error         %s\n", r.FirstErr)
	}
	if r.Chart != "" {
		fmt.Fprintf(w, "  chart               %s\n", r.Chart)
	}
	if r.CPUProfile != "" {
		fmt.Fprintf(w, "  cpu profile         %s (go tool pprof -top %s)\n", r.CPUProfile, r.CPUProfile)
	}
}

func cores(c float64) string {
	if c < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", c)
}

// benchLimit is the bare-HTTP anchor: the simplest Go client POSTing valid
// subscribe sends with a valid token straight to the simulator, as
// /work/shared/reference/httplimit does against its own minimal endpoint.
type benchLimit struct {
	url    string
	bodies [][]byte
	client *http.Client
	c      int
	sim    *wechatsim.Server
}

func (r *benchRun) newLimit(ctx context.Context, clients int) (*benchLimit, error) {
	tpl := r.sim.AddTemplateDirect(benchLimitAppID, "订单发货通知",
		wechatsim.Keyword{Key: "thing1", Name: "商品名称"}, wechatsim.Keyword{Key: "time2", Name: "发货时间"})
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	cl := &http.Client{Transport: tr}
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
	l := &benchLimit{url: r.simURL + "/cgi-bin/message/subscribe/send?access_token=" + tok.AccessToken, client: cl, c: clients, sim: r.sim}
	for i := range 64 {
		openid := fmt.Sprintf("oLIMIT%012d", i)
		r.sim.GrantSubscribe(benchLimitAppID, openid, tpl, 1<<40)
		l.bodies = append(l.bodies, []byte(`{"touser":"`+openid+`","template_id":"`+tpl+`","page":"pages/index","data":{"thing1":{"value":"Order shipped"},"time2":{"value":"`+benchTime2+`"}}}`))
	}
	return l, nil
}

// run sends n requests (or as many as benchLimitMaxTime allows) and
// returns req/s.
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

// processCPU returns this process's user+system CPU seconds from
// /proc/self/stat, or -1 where there is no /proc.
func processCPU() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) start at state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseFloat(f[11], 64) // utime, field 14
	st, err2 := strconv.ParseFloat(f[12], 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return -1
	}
	return (ut + st) / clockTicks
}

// machineCPU returns the CPU seconds every core has spent busy (not idle
// or waiting for I/O), from /proc/stat, or -1.
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
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		busy += x
	}
	return busy / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// chartSVG draws accepted/s and delivered/s over time.
func (r *benchRun) chartSVG(res *benchResult, samples []benchSample) []byte {
	const (
		w, h                 = 820, 380
		left, right, top, bt = 70, 20, 40, 50
	)
	// Rates over a moving window of 5 samples (0.5 s), shorter for tiny runs.
	window := max(1, min(5, len(samples)-1))
	type pt struct{ x, y float64 }
	var delivered []pt
	for i := window; i < len(samples); i++ {
		a, b := samples[i-window], samples[i]
		delivered = append(delivered, pt{b.At.Seconds(), float64(b.Delivered-a.Delivered) / (b.At - a.At).Seconds()})
	}
	// Accepts in benchSampleEvery buckets, then the same moving window.
	var end time.Duration
	if len(samples) > 0 {
		end = samples[len(samples)-1].At
	}
	nb := int(end/benchSampleEvery) + 1
	buckets := make([]int, nb)
	for i := range r.c.N {
		if a := time.Duration(r.accepts[i].Load()); a != 0 && int(a/benchSampleEvery) < nb {
			buckets[a/benchSampleEvery]++
		}
	}
	var accepted []pt
	sum := 0
	for i := range buckets {
		sum += buckets[i]
		if i >= window {
			sum -= buckets[i-window]
		}
		if i+1 >= window {
			accepted = append(accepted, pt{(time.Duration(i+1) * benchSampleEvery).Seconds(), float64(sum) / (time.Duration(window) * benchSampleEvery).Seconds()})
		}
	}
	maxX, maxY := end.Seconds(), 1.0
	for _, p := range slices.Concat(delivered, accepted) {
		maxY = max(maxY, p.y)
	}
	maxX = max(maxX, 0.1)
	maxY = niceCeil(max(maxY, res.LimitPerSec))
	px := func(x float64) float64 { return left + x/maxX*(w-left-right) }
	py := func(y float64) float64 { return top + (1-y/maxY)*(h-top-bt) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	title := fmt.Sprintf("wxnotify bench: %s, %d instance(s), sim latency %gms, %d messages; %.0f delivered/s = %.0f%% of bare HTTP (%.0f req/s)",
		res.Engine, res.Instances, res.SimLatencyMS, res.N, res.DeliveredPerSec, 100*res.Ratio, res.LimitPerSec)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13">%s</text>`+"\n", left, html.EscapeString(title))
	for i := 0; i <= 5; i++ {
		y := maxY * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, w-right, py(y), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-6, py(y)+4, y)
	}
	step := niceCeil(maxX / 8)
	for x := 0.0; x <= maxX+1e-9; x += step {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>`, px(x), px(x), top, h-bt)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", px(x), h-bt+16, x)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since the first request</text>`+"\n", (left+w-right)/2, h-12)
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">messages/s (%.1f s window)</text>`+"\n", (top+h-bt)/2, (time.Duration(window) * benchSampleEvery).Seconds())
	line := func(ps []pt, color string) {
		if len(ps) == 0 {
			return
		}
		b.WriteString(`<polyline fill="none" stroke-width="1.8" stroke="` + color + `" points="`)
		for _, p := range ps {
			fmt.Fprintf(&b, "%.1f,%.1f ", px(p.x), py(p.y))
		}
		b.WriteString("\"/>\n")
	}
	line(accepted, "#999")
	line(delivered, "#1f6feb")
	if res.LimitPerSec > 0 && res.LimitPerSec <= maxY {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d73a49" stroke-dasharray="6 4"/>`+"\n", left, w-right, py(res.LimitPerSec), py(res.LimitPerSec))
	}
	lx := w - right - 250
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#1f6feb" stroke-width="2"/><text x="%d" y="%d">delivered/s (simulator)</text>`+"\n", lx, lx+24, top+10, top+10, lx+30, top+14)
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999" stroke-width="2"/><text x="%d" y="%d">accepted/s (202s)</text>`+"\n", lx, lx+24, top+28, top+28, lx+30, top+32)
	if res.LimitPerSec > 0 && res.LimitPerSec <= maxY {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#d73a49" stroke-dasharray="6 4"/><text x="%d" y="%d">bare-HTTP limit, same run</text>`+"\n", lx, lx+24, top+46, top+46, lx+30, top+50)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
