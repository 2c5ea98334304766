package http

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
)

// Dashboard time series: one sample every DashboardSampleInterval, the last
// DashboardHistory of them kept in memory by each instance (they are lost
// on restart; Prometheus at /metrics is the durable record).
const (
	DashboardSampleInterval = 5 * time.Second
	DashboardHistory        = time.Hour
	// DashboardMaxSeries bounds the credit series and the errcode labels
	// kept per sample; the largest are kept.
	DashboardMaxSeries = 50
	// dashboardSampleTimeout bounds the queries of one sample.
	dashboardSampleTimeout = 4 * time.Second
)

// DashboardSample is one point of the dashboard's charts. A part whose
// source is not configured, or failed, is null; an empty map is zeros.
type DashboardSample struct {
	At time.Time `json:"at"`
	// Queue is the queue depth at At: messages queued, waiting_credit and
	// sending.
	Queue map[string]int64 `json:"queue"`
	// Outcomes counts the messages that reached each terminal state
	// (delivered, failed, no_credit, …) since the previous sample; absent
	// in the first sample.
	Outcomes map[string]int64 `json:"outcomes"`
	// Credits is the usable uses per "appid/template_id" (subscribe
	// credits) or "appid/kind" (legacy credits) at At.
	Credits map[string]int64 `json:"credits"`
	// WeChatErrors counts WeChat send errors per errcode label since the
	// previous sample.
	WeChatErrors map[string]int64 `json:"wechat_errors"`
}

// timeSeries is a ring of samples with the cumulative counts the next
// sample's deltas are taken from.
type timeSeries struct {
	mu     sync.Mutex
	ring   []DashboardSample
	next   int // where the next sample goes
	n      int // samples held
	counts map[string]int64
	errors map[string]int64
}

func newTimeSeries(capacity int) *timeSeries {
	return &timeSeries{ring: make([]DashboardSample, capacity), errors: map[string]int64{}}
}

func (ts *timeSeries) add(s DashboardSample) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.ring[ts.next] = s
	ts.next = (ts.next + 1) % len(ts.ring)
	ts.n = min(ts.n+1, len(ts.ring))
}

// since returns the samples taken after t, oldest first.
func (ts *timeSeries) since(t time.Time) []DashboardSample {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]DashboardSample, 0, ts.n)
	for i := range ts.n {
		s := ts.ring[(ts.next-ts.n+i+len(ts.ring))%len(ts.ring)]
		if s.At.After(t) {
			out = append(out, s)
		}
	}
	return out
}

// delta returns cur minus prev per key, dropping zeros and clamping at 0
// (a purge or a restart lowers a cumulative count). With prev nil it
// returns nil: there is nothing to subtract from yet.
func delta(cur, prev map[string]int64) map[string]int64 {
	if prev == nil {
		return nil
	}
	out := map[string]int64{}
	for k, v := range cur {
		if d := v - prev[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// largest keeps the n largest values of m.
func largest(m map[string]int64, n int) map[string]int64 {
	if len(m) <= n {
		return m
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Compare(m[b], m[a]) })
	out := make(map[string]int64, n)
	for _, k := range keys[:n] {
		out[k] = m[k]
	}
	return out
}

// SampleDashboard takes one sample of the dashboard's time series now:
// message counts (queue depth and outcomes since the last sample), credit
// stock per template and WeChat errcodes. A source that fails is logged and
// left out of the sample. The dashboard_sample job calls it every
// DashboardSampleInterval; without a DashboardPassword (no dashboard) it does
// nothing.
func (s *Server) SampleDashboard(ctx context.Context) error {
	if s.DashboardPassword == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(operatorContext(ctx), dashboardSampleTimeout)
	defer cancel()
	ts := s.dash.series
	sample := DashboardSample{At: s.now()}
	if s.Counts != nil {
		if counts, err := s.Counts(ctx); err != nil {
			s.logger().WarnContext(ctx, "dashboard: count messages", "err", err)
		} else {
			sample.Queue = map[string]int64{}
			terminal := map[string]int64{}
			for state, n := range counts {
				if wxnotify.MessageState(state).Terminal() {
					terminal[state] = n
				} else {
					sample.Queue[state] = n
				}
			}
			ts.mu.Lock()
			sample.Outcomes = delta(terminal, ts.counts)
			ts.counts = terminal
			ts.mu.Unlock()
		}
	}
	if s.CreditService != nil {
		if stocks, err := s.CreditService.CreditStocks(ctx, wxnotify.CreditFilter{}); err != nil {
			s.logger().WarnContext(ctx, "dashboard: credit stocks", "err", err)
		} else {
			sample.Credits = map[string]int64{}
			for _, st := range stocks {
				sample.Credits[st.AppID+"/"+cmp.Or(st.TemplateID, string(st.Kind))] += st.Uses
			}
			sample.Credits = largest(sample.Credits, DashboardMaxSeries)
		}
	}
	if s.WeChatErrors != nil {
		if errs, err := s.WeChatErrors(ctx); err != nil {
			s.logger().WarnContext(ctx, "dashboard: wechat errors", "err", err)
		} else {
			ts.mu.Lock()
			sample.WeChatErrors = largest(delta(errs, ts.errors), DashboardMaxSeries)
			ts.errors = errs
			ts.mu.Unlock()
		}
	}
	ts.add(sample)
	return nil
}
