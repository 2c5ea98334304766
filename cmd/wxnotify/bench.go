package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/apikey"
	"github.com/wxnotify/wxnotify/delivery"
	"github.com/wxnotify/wxnotify/internal/loadtest"
	"github.com/wxnotify/wxnotify/internal/seal"
	"github.com/wxnotify/wxnotify/queue"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storeopen"
	"github.com/wxnotify/wxnotify/token"
)

// wxnotify bench is the wxnotify half of a load test: it starts instances
// over a fresh, seeded database and hands them to internal/loadtest, which
// owns the measuring half (simulator, bare-HTTP limit, producers, idle
// probe, figures) and is shared with bench/peer, so that the two divide.

// Defaults of wxnotify bench.
const (
	DefaultBenchN           = 20000
	DefaultBenchUsers       = 1000
	DefaultBenchConcurrency = 64
	DefaultBenchLimitN      = 50000
	DefaultBenchTimeout     = 3 * time.Minute
	DefaultBenchPG          = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// benchConfig is the flags of wxnotify bench; loadtest.Config holds the
// ones bench/peer shares.
type benchConfig struct {
	loadtest.Config
	Engine     string
	PG         string
	Instances  int
	Broadcast  bool
	BcastSize  int
	Chart      string
	CPUProfile string
	Senders    int     // pipeline senders per instance (0: delivery default)
	AppRate    float64 // sends/s per app per instance; 0: unlimited
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

	loadtest.Result

	Chart            string `json:"chart,omitempty"`
	CPUProfile       string `json:"cpuprofile,omitempty"`
	BroadcastSkipped string `json:"broadcast_skipped,omitempty"`
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
			"sends " + strconv.Itoa(loadtest.IdleN) + " single messages one at a time for the idle latency; the limit is measured again at the end.\n" +
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
					if jerr := g.printJSON(res); jerr != nil {
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

func runBench(ctx context.Context, g *globals, c benchConfig, logLevel string) (*benchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &benchResult{
		Engine: c.Engine, Instances: c.Instances, SimLatencyMS: loadtest.Millis(c.SimLatency), N: c.N, Users: c.Users,
		Concurrency: c.Concurrency, Mode: "messages",
	}

	// The simulator, and the bare-HTTP limit first.
	b, err := loadtest.Start(c.Config, "bench", g.env.Stderr)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if err := b.MeasureLimit(ctx, c.Instances*cmpOr(c.Senders, delivery.DefaultConcurrency)); err != nil {
		return nil, err
	}

	// A fresh database, and the instances over it.
	dsn, dropDB, err := freshDB(ctx, c, g.env.Stderr)
	if err != nil {
		return nil, err
	}
	defer dropDB()
	ig := &globals{
		env: &Env{Stdout: io.Discard, Stderr: g.env.Stderr, Getenv: benchGetenv(b.SimURL(), seal.GenerateKey())},
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
	key, err := seed(ctx, ig, stores[0], c.Config, b.TemplateID())
	if err != nil {
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
		in.queue.OnEnd = func(e queue.Ended) { counted(e); outcome(b, e) }
		instWG.Add(1)
		go func() {
			defer instWG.Done()
			if err := in.run(instCtx, func(u string) { ready <- u }); err != nil {
				instErr <- err
			}
		}()
	}
	target := loadtest.Target{APIKey: key}
	for range c.Instances {
		select {
		case u := <-ready:
			target.URLs = append(target.URLs, u)
		case err := <-instErr:
			return nil, fmt.Errorf("start instance: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}

	if c.Broadcast {
		if why := b.BroadcastsUnavailable(ctx, target); why != "" {
			res.BroadcastSkipped = why
			b.Logf("--broadcast skipped: %s; sending single messages", why)
		} else {
			res.Mode = "broadcasts"
			target.BroadcastSize = c.BcastSize
		}
	}
	if c.CPUProfile != "" {
		target.AroundLoad = func() (func(), error) {
			f, err := os.Create(c.CPUProfile)
			if err != nil {
				return nil, err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return nil, err
			}
			res.CPUProfile = c.CPUProfile
			return func() { pprof.StopCPUProfile(); f.Close() }, nil
		}
	}

	// The load, the idle probe and the limit again.
	m, err := b.Run(ctx, target)
	if m == nil {
		return nil, err
	}
	res.Result = *m
	if c.Chart != "" {
		title := fmt.Sprintf("wxnotify bench: %s, %d instance(s), sim latency %gms, %d messages; %.0f delivered/s = %.0f%% of bare HTTP (%.0f req/s)",
			res.Engine, res.Instances, res.SimLatencyMS, res.N, res.DeliveredPerSec, 100*res.Ratio, res.LimitPerSec)
		if err := os.WriteFile(c.Chart, b.ChartSVG(title), 0o644); err != nil {
			return res, fmt.Errorf("write chart: %w", err)
		}
		res.Chart = c.Chart
	}
	return res, err
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

// outcome tells the load test about messages that end without being
// delivered.
func outcome(b *loadtest.Bench, o queue.Ended) {
	if o.State == wxnotify.MessageDelivered {
		return
	}
	why := string(o.State)
	if o.Message != nil && o.Message.LastError != "" {
		why += ": " + o.Message.LastError
	} else if o.Attempt != nil {
		why += ": " + o.Attempt.ErrMsg
	}
	b.Ended(why)
}

// freshDB returns the DSN of an empty database and how to remove it.
func freshDB(ctx context.Context, c benchConfig, stderr io.Writer) (string, func(), error) {
	if c.Engine == "sqlite" {
		dir, err := os.MkdirTemp("", "wxnotify-bench")
		if err != nil {
			return "", nil, err
		}
		return storeopen.SQLitePrefix + filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
	}
	schema, dropSchema, err := loadtest.NewSchema(ctx, c.PG, "wxbench")
	if err != nil {
		return "", nil, fmt.Errorf("create schema on --pg %s: %w", redactDSN(c.PG), err)
	}
	drop := func() {
		if err := dropSchema(); err != nil {
			fmt.Fprintf(stderr, "bench: drop schema %s: %v\n", schema, err)
		}
	}
	if u, err := url.Parse(c.PG); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), drop, nil
	}
	drop()
	return "", nil, fmt.Errorf("--pg must be a postgres:// URL")
}

// seed registers the app and an API key, and gives every user
// c.PerUser() subscribe acceptances in the ledger, as loadtest.Start did
// in the simulator. It returns the API key.
func seed(ctx context.Context, ig *globals, st store.Driver, c loadtest.Config, tpl string) (string, error) {
	box, err := ig.box()
	if err != nil {
		return "", err
	}
	if err := (&token.AppService{Store: st, Box: box}).CreateApp(ctx, &wxnotify.App{
		AppID: loadtest.AppID, Name: "bench", Secret: wxnotify.Secret(loadtest.AppSecret),
	}); err != nil {
		return "", fmt.Errorf("create app: %w", err)
	}
	key, err := (&apikey.Service{Store: st}).CreateAPIKey(ctx, &wxnotify.APIKey{Name: "bench", Apps: []string{loadtest.AppID}})
	if err != nil {
		return "", fmt.Errorf("create api key: %w", err)
	}
	now := time.Now()
	per := c.PerUser()
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
	for u := range c.Users {
		openID := loadtest.OpenID(u)
		for range per {
			batch = append(batch, &store.CreditInsertParams{
				AppID: loadtest.AppID, OpenID: openID, Kind: string(wxnotify.CreditSubscribe), TemplateID: tpl,
				Uses: 1, ObtainedAt: now, Source: "bench",
			})
			if len(batch) == chunk {
				if err := flush(); err != nil {
					return "", err
				}
			}
		}
	}
	return key, flush()
}

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
	r.WriteText(w)
	if r.Chart != "" {
		fmt.Fprintf(w, "  chart               %s\n", r.Chart)
	}
	if r.CPUProfile != "" {
		fmt.Fprintf(w, "  cpu profile         %s (go tool pprof -top %s)\n", r.CPUProfile, r.CPUProfile)
	}
}
