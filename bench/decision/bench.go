package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Message is the row every engine stores: what one POST /v1/messages accepts.
type Message struct {
	AppID          string
	OpenID         string
	TemplateID     string
	Data           []byte // JSON
	IdempotencyKey string
}

// NewMessage returns a realistic message; i makes the openid and idempotency key unique.
func NewMessage(run string, i int64) *Message {
	return &Message{
		AppID:          "wx0123456789abcdef",
		OpenID:         fmt.Sprintf("oUSER-%022d", i),
		TemplateID:     "bDmywsp2oEHjwAadTGKkUHpC0RgBVWvu1zR6Me29Cbk",
		Data:           []byte(fmt.Sprintf(`{"thing1":{"value":"Order %d shipped"},"time2":{"value":"2026-11-25 10:00"},"character_string3":{"value":"SF%010d"}}`, i, i)),
		IdempotencyKey: fmt.Sprintf("%s-%d", run, i),
	}
}

// Queue is one engine configuration under test, opened on a fresh store.
type Queue interface {
	// Accept stores m durably and returns only once it would survive the engine's stated durability level.
	Accept(ctx context.Context, m *Message) error
	// StartWorkers claims due messages, "sends" them with a no-op sender and records them completed,
	// adding one to done per completed message, until ctx is done. wait returns once the workers stopped.
	StartWorkers(ctx context.Context, done *atomic.Int64) (wait func())
	Close() error
}

// Result is one measured figure.
type Result struct {
	Name    string // engine configuration
	Metric  string // accept, claim+complete, e2e, http, reads, claim-only
	Rate    float64
	Partial bool // cut by the phase timeout: the rate covers what finished
}

// Bench runs the phases against each configured engine.
type Bench struct {
	Config *Config
	Out    io.Writer
	Logger *slog.Logger
}

func (b *Bench) RunOnce(ctx context.Context, run int) (res []Result, err error) {
	c := b.Config
	add := func(r ...Result) {
		for _, x := range r {
			fmt.Fprintf(b.Out, "  %-34s %-15s %9.0f/s%s\n", x.Name, x.Metric, x.Rate, map[bool]string{true: " (partial: phase timeout)"}[x.Partial])
		}
		res = append(res, r...)
	}
	// The bare-HTTP limit is measured before and after the engines; the ratio uses the mean of the two,
	// so a noisy stretch of the machine skews engines and limit alike.
	var httpRates []float64
	measureHTTP := func(when string) error {
		if !c.has("http") {
			return nil
		}
		rate, err := HTTPLimit(ctx, c.HTTPN, c.HTTPC)
		if err != nil {
			return fmt.Errorf("http limit: %w", err)
		}
		fmt.Fprintf(b.Out, "  %-34s %-15s %9.0f/s\n", "bare-HTTP ("+when+")", "http", rate)
		httpRates = append(httpRates, rate)
		return nil
	}
	if err := measureHTTP("before"); err != nil {
		return nil, err
	}
	defer func() {
		if len(httpRates) == 2 {
			res = append(res, Result{Name: "bare-HTTP", Metric: "http", Rate: (httpRates[0] + httpRates[1]) / 2})
		}
	}()
	var pg *PGServer
	if c.has("river-pg") || c.has("pg") {
		var err error
		if pg, err = OpenPGServer(ctx, c.PGDSN); err != nil {
			return nil, err
		}
		defer pg.Close()
	}
	if c.has("river-pg") {
		r, err := b.Engine(ctx, "river-pg", run, func(ctx context.Context) (Queue, error) { return OpenRiverPG(ctx, pg, b.Config) })
		if err != nil {
			return nil, err
		}
		add(r...)
	}
	if c.has("river-sqlite") {
		r, err := b.Engine(ctx, "river-sqlite(modernc,WAL,NORMAL)", run, func(ctx context.Context) (Queue, error) { return OpenRiverSQLite(ctx, b.Config) })
		if err != nil {
			return nil, err
		}
		add(r...)
	}
	if c.has("pg") {
		for _, mode := range c.PGInsert {
			name := fmt.Sprintf("table-pg(%s)", mode)
			r, err := b.Engine(ctx, name, run, func(ctx context.Context) (Queue, error) { return OpenPGQueue(ctx, pg, b.Config, mode) })
			if err != nil {
				return nil, err
			}
			add(r...)
		}
	}
	if c.has("sqlite") || c.has("reads") {
		for _, drv := range c.Drivers {
			for _, sync := range c.Syncs {
				lc := LiteConfig{Driver: drv, Synchronous: sync, CommitBatch: c.CommitBatch, ClaimBatch: c.ClaimBatch, Workers: c.LiteWorkers, Readers: c.Readers}
				name := fmt.Sprintf("table-sqlite(%s,%s)", drv, sync)
				if c.has("sqlite") {
					r, err := b.Engine(ctx, name, run, func(ctx context.Context) (Queue, error) { return OpenLiteQueue(ctx, lc) })
					if err != nil {
						return nil, err
					}
					add(r...)
				}
				if c.has("reads") {
					r, err := b.DriverMicro(ctx, name, run, lc)
					if err != nil {
						return nil, err
					}
					add(r...)
				}
			}
		}
	}
	if err := measureHTTP("after"); err != nil {
		return nil, err
	}
	return res, nil
}

// Engine measures accept-only and claim+complete-only on one fresh store, then end to end on another.
func (b *Bench) Engine(ctx context.Context, name string, run int, open func(context.Context) (Queue, error)) ([]Result, error) {
	c := b.Config
	q, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", name, err)
	}
	tag := fmt.Sprintf("r%d-%d", run, time.Now().UnixNano())
	acc, accepted, partial, err := b.accept(ctx, q, tag)
	if err != nil {
		q.Close()
		return nil, fmt.Errorf("%s: accept: %w", name, err)
	}
	res := []Result{{Name: name, Metric: "accept", Rate: acc, Partial: partial}}
	rate, partial, err := b.drain(ctx, q, accepted)
	q.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: claim+complete: %w", name, err)
	}
	res = append(res, Result{Name: name, Metric: "claim+complete", Rate: rate, Partial: partial})

	q, err = open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", name, err)
	}
	defer q.Close()
	var done atomic.Int64
	wctx, cancel := context.WithCancel(ctx)
	wait := q.StartWorkers(wctx, &done)
	start := time.Now()
	_, accepted, partial, err = b.accept(ctx, q, tag+"e")
	if err != nil {
		cancel()
		wait()
		return nil, fmt.Errorf("%s: e2e accept: %w", name, err)
	}
	deadline := start.Add(c.PhaseTimeout)
	for done.Load() < accepted && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Microsecond)
	}
	el := time.Since(start)
	got := done.Load()
	cancel()
	wait()
	if got < accepted {
		partial = true
	}
	res = append(res, Result{Name: name, Metric: "e2e", Rate: float64(got) / el.Seconds(), Partial: partial})
	return res, nil
}

// accept runs c.Producers producers, each submitting one message at a time, until c.N are accepted or the
// phase times out. It returns the rate and the number accepted.
func (b *Bench) accept(ctx context.Context, q Queue, tag string) (float64, int64, bool, error) {
	c := b.Config
	ctx, cancel := context.WithTimeout(ctx, c.PhaseTimeout)
	defer cancel()
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for p := 0; p < c.Producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(c.N) || ctx.Err() != nil {
					return
				}
				if err := q.Accept(ctx, NewMessage(tag, i)); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err })
					}
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if firstErr != nil {
		return 0, 0, false, firstErr
	}
	n := ok.Load()
	return float64(n) / el.Seconds(), n, n < int64(c.N), nil
}

// drain starts the workers on a store holding n queued messages and times until all n are completed.
func (b *Bench) drain(ctx context.Context, q Queue, n int64) (float64, bool, error) {
	var done atomic.Int64
	wctx, cancel := context.WithCancel(ctx)
	start := time.Now()
	wait := q.StartWorkers(wctx, &done)
	deadline := start.Add(b.Config.PhaseTimeout)
	for done.Load() < n && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Microsecond)
	}
	el := time.Since(start)
	got := done.Load()
	cancel()
	wait()
	return float64(got) / el.Seconds(), got < n, ctx.Err()
}

var metricOrder = []string{"accept", "claim+complete", "e2e", "claim-only", "insert-1conn", "reads"}

// PrintTable prints one row per engine configuration and the ratio of each to the bare-HTTP limit.
func PrintTable(w io.Writer, title string, res []Result) {
	var httpRate float64
	var names []string
	byName := map[string]map[string]Result{}
	for _, r := range res {
		if r.Metric == "http" {
			httpRate = r.Rate
			continue
		}
		if byName[r.Name] == nil {
			byName[r.Name] = map[string]Result{}
			names = append(names, r.Name)
		}
		byName[r.Name][r.Metric] = r
	}
	var cols []string
	for _, m := range metricOrder {
		for _, n := range names {
			if _, ok := byName[n][m]; ok {
				cols = append(cols, m)
				break
			}
		}
	}
	fmt.Fprintf(w, "\n## %s   bare-HTTP limit: %.0f req/s\n\n| engine | %s | e2e/HTTP | accept/HTTP |\n|---|%s---|---|\n",
		title, httpRate, strings.Join(cols, "/s | ")+"/s", strings.Repeat("---:|", len(cols)))
	for _, n := range names {
		fmt.Fprintf(w, "| %s |", n)
		for _, m := range cols {
			r, ok := byName[n][m]
			switch {
			case !ok:
				fmt.Fprint(w, " – |")
			case r.Partial:
				fmt.Fprintf(w, " %.0f* |", r.Rate)
			default:
				fmt.Fprintf(w, " %.0f |", r.Rate)
			}
		}
		fmt.Fprintf(w, " %s | %s |\n", ratio(byName[n]["e2e"], httpRate), ratio(byName[n]["accept"], httpRate))
	}
	fmt.Fprintln(w, "\n(* = cut by -phase-timeout; the rate covers what finished)")
	for _, n := range names {
		if r, ok := byName[n]["e2e"]; ok && httpRate > 0 {
			verdict := "MISSES"
			if r.Rate/httpRate >= 0.5 {
				verdict = "meets"
			}
			fmt.Fprintf(w, "ratio %-36s e2e %8.0f/s = %5.1f%% of bare-HTTP %.0f/s: %s the 50%% goal\n", n, r.Rate, 100*r.Rate/httpRate, httpRate, verdict)
		}
	}
}

func ratio(r Result, httpRate float64) string {
	if r.Rate == 0 || httpRate == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*r.Rate/httpRate)
}

// Medians folds several runs into one result per (name, metric).
func Medians(all []Result) []Result {
	type key struct{ name, metric string }
	var order []key
	vals := map[key][]float64{}
	partial := map[key]bool{}
	for _, r := range all {
		k := key{r.Name, r.Metric}
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = append(vals[k], r.Rate)
		partial[k] = partial[k] || r.Partial
	}
	var out []Result
	for _, k := range order {
		v := slices.Clone(vals[k])
		sort.Float64s(v)
		out = append(out, Result{Name: k.name, Metric: k.metric, Rate: v[len(v)/2], Partial: partial[k]})
	}
	return out
}
