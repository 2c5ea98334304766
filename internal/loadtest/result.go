package loadtest

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Result is what one run measured. Its JSON names are those of
// `wxnotify bench --json`, which embeds it; bench/peer decodes that output
// into its own embedding.
type Result struct {
	Accepted  int    `json:"accepted"`
	Rejected  int    `json:"rejected"`
	Delivered int64  `json:"delivered"`
	Failed    int64  `json:"failed"` // terminal but not delivered (no_credit, failed…)
	FirstErr  string `json:"first_error,omitempty"`
	TimedOut  bool   `json:"timed_out"`

	AcceptedPerSec  float64 `json:"accepted_per_sec"`  // accepted ÷ (start → last 202)
	DeliveredPerSec float64 `json:"delivered_per_sec"` // delivered ÷ ElapsedSec
	ElapsedSec      float64 `json:"elapsed_sec"`       // first accept → last delivery
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

	// CPU is cores used on average during the load (process: the system
	// when it runs in-process, the simulator and the load generator
	// together; machine: everything, including PostgreSQL's backends).
	// -1: not measurable here.
	ProcessCores float64 `json:"process_cores"`
	MachineCores float64 `json:"machine_cores"`

	LimitClients    int     `json:"limit_clients"`
	LimitBefore     float64 `json:"limit_before_per_sec"`
	LimitAfter      float64 `json:"limit_after_per_sec"`
	LimitPerSec     float64 `json:"limit_per_sec"` // mean of before and after
	Ratio           float64 `json:"ratio"`         // delivered/s ÷ limit
	RatioBeforeOnly float64 `json:"ratio_before"`  // delivered/s ÷ limit measured first
}

// summarize fills the counts, rates, percentiles and ratios. A message's
// latency is its simulator delivery time minus the time its 202 arrived.
func (b *Bench) summarize() {
	res := &b.res
	res.Accepted = b.acceptedCount()
	res.Rejected = int(b.rejected.Load())
	res.Failed = b.failed.Load()
	b.mu.Lock()
	res.FirstErr = b.firstErr
	if res.FirstErr == "" {
		res.FirstErr = b.failWhy
	}
	b.mu.Unlock()
	var firstAccept, lastAccept time.Duration = math.MaxInt64, 0
	for i := range b.c.N {
		if a := time.Duration(b.accepts[i].Load()); a != 0 {
			firstAccept, lastAccept = min(firstAccept, a), max(lastAccept, a)
		}
	}
	if lastAccept > 0 {
		res.AcceptedPerSec = float64(res.Accepted) / lastAccept.Seconds()
	}
	var lat []time.Duration
	var lastDelivery time.Duration
	for _, d := range b.sim.AllDelivered(AppID) {
		seq, ok := b.seqOf(d)
		if !ok || seq >= b.c.N {
			continue
		}
		at := d.At.Sub(b.t0)
		lastDelivery = max(lastDelivery, at)
		if a := time.Duration(b.accepts[seq].Load()); a != 0 {
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
	return Millis(s[max(0, min(i, len(s)-1))])
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Median is the median of v (the mean of the middle two when there is an
// even number); 0 when there is nothing.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// WriteText writes the figures of r, one line each, as `wxnotify bench`
// prints them under its header line.
func (r *Result) WriteText(w io.Writer) {
	fmt.Fprintf(w, "  accepted            %d (%d rejected), %.0f/s\n", r.Accepted, r.Rejected, r.AcceptedPerSec)
	fmt.Fprintf(w, "  delivered           %d (%d ended otherwise), %.0f/s over %.2fs (first accept → last delivery)\n",
		r.Delivered, r.Failed, r.DeliveredPerSec, r.ElapsedSec)
	fmt.Fprintf(w, "  accept→delivered    p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
	fmt.Fprintf(w, "  idle (%d single)    p50 %.2fms  p99 %.2fms  (from the request's start: p50 %.2fms  p99 %.2fms)\n",
		IdleN, r.IdleP50MS, r.IdleP99MS, r.IdleSubmitP50MS, r.IdleSubmitP99MS)
	fmt.Fprintf(w, "  CPU                 process %s cores, machine %s cores\n", cores(r.ProcessCores), cores(r.MachineCores))
	fmt.Fprintf(w, "  bare-HTTP limit     %.0f req/s (before %.0f, after %.0f; %d clients)\n", r.LimitPerSec, r.LimitBefore, r.LimitAfter, r.LimitClients)
	fmt.Fprintf(w, "  ratio               %.0f%% of the limit (%.0f%% of the limit measured first)\n", 100*r.Ratio, 100*r.RatioBeforeOnly)
	if r.FirstErr != "" {
		fmt.Fprintf(w, "  first error         %s\n", r.FirstErr)
	}
}

func cores(c float64) string {
	if c < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", c)
}

// versusColumns are the figures WriteVersus compares, each a median on its
// own.
var versusColumns = []struct {
	name string
	of   func(*Result) float64
}{
	{"delivered/s", func(r *Result) float64 { return r.DeliveredPerSec }},
	{"accepted/s", func(r *Result) float64 { return r.AcceptedPerSec }},
	{"p50 ms", func(r *Result) float64 { return r.P50MS }},
	{"p99 ms", func(r *Result) float64 { return r.P99MS }},
	{"idle p50 ms", func(r *Result) float64 { return r.IdleP50MS }},
	{"idle p99 ms", func(r *Result) float64 { return r.IdleP99MS }},
	{"CPU process", func(r *Result) float64 { return r.ProcessCores }},
	{"CPU machine", func(r *Result) float64 { return r.MachineCores }},
	{"limit req/s", func(r *Result) float64 { return r.LimitPerSec }},
	{"ratio to limit", func(r *Result) float64 { return r.Ratio }},
}

// WriteVersus writes the medians of runs of wxnotify (wx, possibly none)
// and of another system (named other) column by column, wxnotify ÷ other
// of each median, and, when both ran as often, of delivered/s in each run.
// Medians are taken per column: a median row need not be one run.
func WriteVersus(w io.Writer, wx []*Result, other string, others []*Result) {
	short := "wx÷" + other
	fmt.Fprintf(w, "%-16s %12s %12s %10s\n", "", "wxnotify", other, short)
	for _, col := range versusColumns {
		o := medianOf(others, col.of)
		if len(wx) == 0 {
			fmt.Fprintf(w, "%-16s %12s %12.2f\n", col.name, "-", o)
			continue
		}
		x := medianOf(wx, col.of)
		ratio := "-"
		if o != 0 {
			ratio = fmt.Sprintf("%.2f×", x/o)
		}
		fmt.Fprintf(w, "%-16s %12.2f %12.2f %10s\n", col.name, x, o, ratio)
	}
	if len(wx) > 0 && len(wx) == len(others) {
		fmt.Fprintf(w, "delivered/s %s per run:", short)
		for i := range wx {
			fmt.Fprintf(w, " %.2f×", wx[i].DeliveredPerSec/others[i].DeliveredPerSec)
		}
		fmt.Fprintln(w)
	}
}

func medianOf(rs []*Result, of func(*Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = of(r)
	}
	return Median(v)
}
