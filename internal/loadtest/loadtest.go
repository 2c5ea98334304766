// Package loadtest is how wxnotify's benchmarks measure a system that takes
// wxnotify's POST /v1/messages: a WeChat simulator on loopback, the bare-HTTP
// limit of the machine measured before and after the load in the same run,
// producers, the accept→delivered latency of every message, an idle probe,
// CPU use, and the figures with their medians and chart.
//
// `wxnotify bench` (cmd/wxnotify) and the peer benchmark (bench/peer, River
// and the silenceper/wechat SDK) both measure through it, so that their
// results divide: the same simulator set-up, users, grants and bodies, the
// same producers and sampling, the same limit and percentiles. Each of them
// only starts its own system, between MeasureLimit and Run:
//
//	b, err := loadtest.Start(cfg, "bench", os.Stderr) // the simulator, every user granted
//	defer b.Close()
//	err = b.MeasureLimit(ctx, inFlight)                // the bare-HTTP limit, first
//	// start the system against b.SimURL() for loadtest.AppID and b.TemplateID();
//	// tell b.Ended about each message that ends without a delivery
//	res, err := b.Run(ctx, loadtest.Target{URLs: urls, APIKey: key}) // load, idle probe, limit again
//
// A message is known in the simulator by its data: thing1 is "m<seq>", so
// each delivery is matched to the moment its 202 arrived.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxnotify/wxnotify/wechatsim"
)

// The shape of a run.
const (
	// IdleN messages are sent one at a time, idleGap apart, after the
	// load: the idle accept→delivered latency.
	IdleN   = 50
	idleGap = 20 * time.Millisecond
	// sampleEvery is how often the simulator's delivered count is sampled.
	sampleEvery = 100 * time.Millisecond
	// limitMaxTime bounds each bare-HTTP limit measurement.
	limitMaxTime = 30 * time.Second
	// limitClients is the limit's clients without a simulator latency.
	limitClients = 64
)

// The apps in the simulator: AppID for the system under test, another for
// the bare-HTTP limit, so the two counts never mix. Both have AppSecret.
const (
	AppID      = "wxbe0c4000000000a1"
	AppSecret  = "bench-app-secret-0123456789abcdef"
	limitAppID = "wxbe0c4000000000b2"
	time2      = "2026-11-25 10:00"
)

// The subscribe template both apps use.
const templateTitle = "订单发货通知"

var templateKeywords = []wechatsim.Keyword{{Key: "thing1", Name: "商品名称"}, {Key: "time2", Name: "发货时间"}}

// Config is what a run's figures depend on; both benchmarks take it from
// flags of the same names.
type Config struct {
	N           int           // messages sent under load
	Users       int           // distinct recipients
	Concurrency int           // producers (requests in flight)
	SimLatency  time.Duration // fixed latency the simulator adds to every WeChat call
	LimitN      int           // requests per bare-HTTP limit measurement
	LimitC      int           // clients of the limit (0: see MeasureLimit)
	Timeout     time.Duration // give up waiting for deliveries after this long
	Quiet       bool          // no progress lines
}

// PerUser is how many subscribe acceptances each user needs: enough for
// its share of the load and the idle probe, with one to spare. Start grants
// them in the simulator; a system with its own ledger seeds as many.
func (c Config) PerUser() int { return (c.N+IdleN+c.Users-1)/c.Users + 1 }

// OpenID is user u's openid.
func OpenID(u int) string { return fmt.Sprintf("oBENCH%012d", u) }

// Bench is one run: the simulator, and what it measured so far.
type Bench struct {
	c    Config
	name string
	log  io.Writer

	sim    *wechatsim.Server
	simURL string
	tpl    string
	srv    *http.Server
	tr     *http.Transport
	client *http.Client

	limit *limit
	res   Result

	target  Target
	t0      time.Time
	accepts []atomic.Int64 // per message: ns after t0 when its 202 arrived; 0: not accepted
	samples []sample

	failed   atomic.Int64
	rejected atomic.Int64
	mu       sync.Mutex
	firstErr string // the load generator's first error
	failWhy  string // why the first message that ended without a delivery did
}

// Start starts the simulator on loopback with the two apps and the
// template, and grants every user PerUser acceptances. name prefixes the
// progress lines written to log (none when c.Quiet).
func Start(c Config, name string, log io.Writer) (*Bench, error) {
	if c.N < 1 || c.Users < 1 || c.Concurrency < 1 || c.LimitN < 1 || c.Timeout <= 0 {
		return nil, errors.New("loadtest: N, Users, Concurrency, LimitN and Timeout must be positive")
	}
	per := c.PerUser()
	b := &Bench{c: c, name: name, log: log, res: Result{ProcessCores: -1, MachineCores: -1}}
	b.sim = wechatsim.New(wechatsim.Options{Latency: c.SimLatency, InboxLimit: per + 16})
	b.sim.AddApp(wechatsim.App{AppID: AppID, Secret: AppSecret})
	b.sim.AddApp(wechatsim.App{AppID: limitAppID, Secret: AppSecret})
	b.tpl = b.sim.AddTemplateDirect(AppID, templateTitle, templateKeywords...)
	for u := range c.Users {
		b.sim.GrantSubscribe(AppID, OpenID(u), b.tpl, per)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.simURL = "http://" + ln.Addr().String()
	b.srv = &http.Server{Handler: b.sim, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go b.srv.Serve(ln)
	b.tr = &http.Transport{MaxIdleConnsPerHost: c.Concurrency, MaxConnsPerHost: c.Concurrency, MaxIdleConns: 4 * c.Concurrency}
	b.client = &http.Client{Transport: b.tr, Timeout: time.Minute}
	return b, nil
}

// Close stops the simulator. Stop the system under test first: it is
// the simulator's client.
func (b *Bench) Close() error {
	b.tr.CloseIdleConnections()
	if b.limit != nil {
		b.limit.client.CloseIdleConnections()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// Sim is the simulator, SimURL its base URL (the system under test's
// WeChat), TemplateID the subscribe template of AppID every message uses.
func (b *Bench) Sim() *wechatsim.Server { return b.sim }
func (b *Bench) SimURL() string         { return b.simURL }
func (b *Bench) TemplateID() string     { return b.tpl }

// Ended counts one message that ended without a delivery (no credit,
// failed, cancelled…), so the run does not wait for it; why, if not
// empty, is reported when the load generator had no error of its own.
// It is safe to call from any goroutine.
func (b *Bench) Ended(why string) {
	b.failed.Add(1)
	if why == "" {
		return
	}
	b.mu.Lock()
	if b.failWhy == "" {
		b.failWhy = why
	}
	b.mu.Unlock()
}

// SetErr records msg as the run's first error, if it has none yet.
func (b *Bench) SetErr(msg string) {
	b.mu.Lock()
	if b.firstErr == "" {
		b.firstErr = msg
	}
	b.mu.Unlock()
}

// Logf writes a progress line, prefixed with the run's name.
func (b *Bench) Logf(format string, args ...any) {
	if !b.c.Quiet && b.log != nil {
		fmt.Fprintf(b.log, b.name+": "+format+"\n", args...)
	}
}

// MeasureLimit measures the bare-HTTP limit the first time; Run measures
// it again at the end. Its clients are Config.LimitC, or else 64 without a
// simulator latency and inFlight with one: as many as the system has sends
// in flight in all, since 64 clients at 50 ms would cap the limit at
// 1,280/s and make the ratio meaningless.
func (b *Bench) MeasureLimit(ctx context.Context, inFlight int) error {
	clients := b.c.LimitC
	if clients <= 0 {
		clients = limitClients
		if b.c.SimLatency > 0 {
			clients = inFlight
		}
	}
	b.res.LimitClients = clients
	b.Logf("measuring the bare-HTTP limit (%d requests, %d clients, sim latency %s)", b.c.LimitN, clients, b.c.SimLatency)
	var err error
	if b.limit, err = b.newLimit(ctx, clients); err != nil {
		return fmt.Errorf("bare-HTTP limit: %w", err)
	}
	if b.res.LimitBefore, err = b.limit.run(ctx, b.c.LimitN); err != nil {
		return fmt.Errorf("bare-HTTP limit: %w", err)
	}
	b.Logf("bare-HTTP limit %.0f req/s", b.res.LimitBefore)
	return nil
}

// Target is the system under load.
type Target struct {
	// URLs are the base URLs of its HTTP listeners; producer p, and idle
	// message i, use URLs[p%len(URLs)].
	URLs []string
	// APIKey is sent as Authorization: Bearer.
	APIKey string
	// BroadcastSize > 0 sends the N messages through POST /v1/broadcasts,
	// BroadcastSize recipients each, instead of POST /v1/messages; see
	// BroadcastsUnavailable.
	BroadcastSize int
	// AroundLoad, if set, is called just before the first request; the
	// function it returns is called as soon as the load has ended (all
	// delivered, or the timeout), before the idle probe. A CPU profile of
	// the load phase goes here.
	AroundLoad func() (end func(), err error)
}

// Run sends the load to t and waits until every accepted message is
// delivered or Ended, then runs the idle probe and measures the limit
// again, and returns the figures. The Result is nil when nothing was
// measured; a timeout returns the Result with an error.
func (b *Bench) Run(ctx context.Context, t Target) (*Result, error) {
	if b.limit == nil {
		return nil, errors.New("loadtest: Run before MeasureLimit")
	}
	if len(t.URLs) == 0 {
		return nil, errors.New("loadtest: Target has no URLs")
	}
	b.target = t
	b.accepts = make([]atomic.Int64, b.c.N+IdleN)
	end := func() {}
	if t.AroundLoad != nil {
		e, err := t.AroundLoad()
		if err != nil {
			return nil, err
		}
		end = e
	}
	res := &b.res
	cpu0, mcpu0 := processCPU(), machineCPU()
	b.t0 = time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, b.c.Timeout)
	defer stopLoad()
	producing := make(chan struct{})
	go func() {
		defer close(producing)
		if t.BroadcastSize > 0 {
			b.produceBroadcasts(loadCtx)
		} else {
			b.produce(loadCtx)
		}
	}()
	timedOut := b.waitDelivered(loadCtx, producing)
	wall := time.Since(b.t0)
	cpu1, mcpu1 := processCPU(), machineCPU()
	end()
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
		b.Logf("idle probe (%d single messages, %s apart)", IdleN, idleGap)
		idle, idleSubmit := b.idleProbe(ctx)
		res.IdleP50MS, res.IdleP99MS = pct(idle, 50), pct(idle, 99)
		res.IdleSubmitP50MS, res.IdleSubmitP99MS = pct(idleSubmit, 50), pct(idleSubmit, 99)
	}

	// The limit again, now that the machine is as warm as it gets.
	if ctx.Err() == nil {
		var err error
		if res.LimitAfter, err = b.limit.run(ctx, b.c.LimitN); err != nil {
			return nil, fmt.Errorf("bare-HTTP limit: %w", err)
		}
		b.Logf("bare-HTTP limit after %.0f req/s", res.LimitAfter)
	}

	b.summarize()
	if res.TimedOut {
		return res, fmt.Errorf("timed out after %s: %d of %d accepted messages delivered", b.c.Timeout, res.Delivered, res.Accepted)
	}
	return res, ctx.Err()
}
