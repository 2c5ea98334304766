// Package history keeps the dashboard's history in the database (the
// history table, store.Executor History*): outcomes and WeChat errcodes
// per minute for a day and per hour for a month, with the queue depth and
// credit stock beside them, so every instance draws the same charts and a
// restart forgets nothing.
//
// The history_rollup job (Rollup.Run, every DefaultInterval on every
// instance) counts what the message and attempt tables say happened in the
// recent minutes and writes those counts, replacing what was there: a
// recount is idempotent, so instances running it at once agree, and an
// outcome committed late (a transaction that began before the minute
// ended) is caught by the next recount. Each run recounts from Lookback
// before the minute of its previous run (CatchUp back on an instance's
// first run), so a failed run loses nothing. The hours touched are then
// summed from their minutes (gauges: the highest). Nothing is added to the
// send path: queue.Finish writes no counter (a counter row every instance
// updates would serialise their outcomes); the counts read two partial
// indexes (migration 00010).
//
// The message_retention job calls Prune: minutes older than MinuteRetention
// and hours older than HourRetention are deleted.
package history

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults and limits of the history.
const (
	// DefaultInterval is how often the rollup runs; the current minute's
	// counts are this fresh.
	DefaultInterval = 10 * time.Second
	// Lookback is how far before its previous run's minute a run recounts.
	Lookback = 2 * time.Minute
	// CatchUp is how far back an instance's first run recounts.
	CatchUp = time.Hour
	// MinuteRetention and HourRetention bound the buckets kept.
	MinuteRetention = 25 * time.Hour
	HourRetention   = 31 * 24 * time.Hour
	// MaxCreditSeries bounds the credit stock keys kept per bucket; the
	// largest are kept.
	MaxCreditSeries = 50
)

// The series of the history table.
const (
	SeriesOutcome = "outcome" // counter: messages ended, per state
	SeriesErrcode = "errcode" // counter: failed calls to WeChat, per errcode
	SeriesQueue   = "queue"   // gauge: messages queued, waiting_credit, sending
	SeriesCredits = "credits" // gauge: usable credit uses per app and template or kind
)

const (
	minute = 60   // seconds
	hour   = 3600 // seconds
)

// gauge reports whether a series is sampled (its hour is its highest
// minute) rather than counted (its hour is the sum).
func gauge(series string) bool { return series == SeriesQueue || series == SeriesCredits }

// Rollup writes and reads the history. Store is required; Credits, when
// set, is sampled into SeriesCredits.
type Rollup struct {
	Store   store.Driver
	Credits func(ctx context.Context) ([]*wxnotify.CreditStock, error)
	Logger  *slog.Logger

	mu   sync.Mutex
	done time.Time // the minute of the last successful run
}

var _ wxnotify.HistoryService = (*Rollup)(nil)

// Run is the history_rollup job: recount the recent minutes, sample the
// gauges into the current one, and sum the hours touched.
func (r *Rollup) Run(ctx context.Context) error {
	now, err := r.Store.Now(ctx)
	if err != nil {
		return fmt.Errorf("history rollup: %w", err)
	}
	m := now.UTC().Truncate(time.Minute)
	r.mu.Lock()
	from := m.Add(-CatchUp)
	if !r.done.IsZero() {
		from = r.done.Add(-Lookback)
		if r.done.After(m) { // the database's clock went back
			from = m.Add(-Lookback)
		}
	}
	r.mu.Unlock()
	to := m.Add(time.Minute)

	// The counts and gauges are read before the write transaction, which
	// on SQLite holds the one writer: the send path waits for the writes
	// only. A recount that lands after a newer one is corrected by the next.
	gauges, err := r.sample(ctx, m)
	if err != nil {
		return fmt.Errorf("history rollup: %w", err)
	}
	var pts []*store.HistoryPoint
	for _, c := range []struct {
		series string
		count  func(context.Context, time.Time, time.Time) ([]*store.HistoryCount, error)
	}{{SeriesOutcome, r.Store.HistoryCountOutcomes}, {SeriesErrcode, r.Store.HistoryCountErrcodes}} {
		cs, err := c.count(ctx, from, to)
		if err != nil {
			return fmt.Errorf("history rollup: %w", err)
		}
		for _, x := range cs {
			pts = append(pts, &store.HistoryPoint{Resolution: minute, Bucket: x.Minute, Series: c.series, Key: x.Key, Value: x.N})
		}
	}
	err = store.InTx(ctx, r.Store, func(tx store.Executor) error {
		if _, err := tx.HistoryDelete(ctx, &store.HistoryRangeParams{Resolution: minute, Series: []string{SeriesOutcome, SeriesErrcode}, From: from, To: to}); err != nil {
			return err
		}
		if _, err := tx.HistoryDelete(ctx, &store.HistoryRangeParams{Resolution: minute, Series: []string{SeriesQueue, SeriesCredits}, From: m, To: to}); err != nil {
			return err
		}
		if err := tx.HistoryUpsertMany(ctx, append(pts, gauges...)); err != nil {
			return err
		}
		for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
			if err := sumHour(ctx, tx, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("history rollup: %w", err)
	}
	r.mu.Lock()
	r.done = m
	r.mu.Unlock()
	return nil
}

// sample returns the gauges' points for the minute m.
func (r *Rollup) sample(ctx context.Context, m time.Time) ([]*store.HistoryPoint, error) {
	counts, err := r.Store.MessageCounts(ctx, &store.MessageCountsParams{})
	if err != nil {
		return nil, err
	}
	pts := make([]*store.HistoryPoint, 0, 3)
	for _, st := range []wxnotify.MessageState{wxnotify.MessageQueued, wxnotify.MessageWaitingCredit, wxnotify.MessageSending} {
		pts = append(pts, &store.HistoryPoint{Resolution: minute, Bucket: m, Series: SeriesQueue, Key: string(st), Value: counts[string(st)]})
	}
	if r.Credits != nil {
		stocks, err := r.Credits(ctx)
		if err != nil {
			r.logger().WarnContext(ctx, "history: credit stock", "err", err)
		} else {
			uses := map[string]int64{}
			for _, st := range stocks {
				uses[st.AppID+"/"+cmp.Or(st.TemplateID, string(st.Kind))] += st.Uses
			}
			for k, v := range largest(uses, MaxCreditSeries) {
				pts = append(pts, &store.HistoryPoint{Resolution: minute, Bucket: m, Series: SeriesCredits, Key: k, Value: v})
			}
		}
	}
	return pts, nil
}

// sumHour rewrites the hour that starts at h from its minutes.
func sumHour(ctx context.Context, tx store.Executor, h time.Time) error {
	mins, err := tx.HistoryList(ctx, &store.HistoryRangeParams{Resolution: minute, From: h, To: h.Add(time.Hour)})
	if err != nil {
		return err
	}
	type key struct{ series, key string }
	sum := map[key]int64{}
	for _, p := range mins {
		k := key{p.Series, p.Key}
		if gauge(p.Series) {
			sum[k] = max(sum[k], p.Value)
		} else {
			sum[k] += p.Value
		}
	}
	if _, err := tx.HistoryDelete(ctx, &store.HistoryRangeParams{Resolution: hour, From: h, To: h.Add(time.Hour)}); err != nil {
		return err
	}
	pts := make([]*store.HistoryPoint, 0, len(sum))
	for k, v := range sum {
		pts = append(pts, &store.HistoryPoint{Resolution: hour, Bucket: h, Series: k.series, Key: k.key, Value: v})
	}
	return tx.HistoryUpsertMany(ctx, pts)
}

// Prune deletes minutes older than MinuteRetention and hours older than
// HourRetention (the message_retention job).
func (r *Rollup) Prune(ctx context.Context) error {
	now, err := r.Store.Now(ctx)
	if err != nil {
		return fmt.Errorf("prune history: %w", err)
	}
	for res, keep := range map[int]time.Duration{minute: MinuteRetention, hour: HourRetention} {
		if _, err := r.Store.HistoryDelete(ctx, &store.HistoryRangeParams{Resolution: res, To: now.Add(-keep)}); err != nil {
			return fmt.Errorf("prune history: %w", err)
		}
	}
	return nil
}

// FindHistory implements wxnotify.HistoryService.
func (r *Rollup) FindHistory(ctx context.Context, rng string) (*wxnotify.History, error) {
	if err := wxnotify.CheckAppAccess(ctx, wxnotify.AllApps); err != nil {
		return nil, wxnotify.Errorf(wxnotify.EFORBIDDEN, "the history needs an API key for every app (an operator's)")
	}
	var res, n int
	switch rng {
	case wxnotify.HistoryLastHour:
		res, n = minute, 60
	case wxnotify.HistoryLastDay:
		res, n = minute, 24*60
	case wxnotify.HistoryLastMonth:
		res, n = hour, 30*24
	default:
		return nil, wxnotify.FieldErrorf("range", "unknown range %q: want 1h, 24h or 30d", rng)
	}
	now, err := r.Store.Now(ctx)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	width := time.Duration(res) * time.Second
	to := now.UTC().Truncate(width).Add(width)
	from := to.Add(-time.Duration(n) * width)
	pts, err := r.Store.HistoryList(ctx, &store.HistoryRangeParams{Resolution: res, From: from, To: to})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	h := &wxnotify.History{Range: rng, ResolutionSeconds: res, From: from, To: to, Buckets: make([]*wxnotify.HistoryBucket, n)}
	for i := range h.Buckets {
		h.Buckets[i] = &wxnotify.HistoryBucket{At: from.Add(time.Duration(i) * width), Outcomes: map[string]int64{}, Errcodes: map[string]int64{}}
	}
	for _, p := range pts {
		i := int(p.Bucket.Sub(from) / width)
		if i < 0 || i >= n {
			continue
		}
		b := h.Buckets[i]
		var dst *map[string]int64
		switch p.Series {
		case SeriesOutcome:
			dst = &b.Outcomes
		case SeriesErrcode:
			dst = &b.Errcodes
		case SeriesQueue:
			dst = &b.Queue
		case SeriesCredits:
			dst = &b.Credits
		default:
			continue
		}
		if *dst == nil {
			*dst = map[string]int64{}
		}
		(*dst)[p.Key] = p.Value
	}
	return h, nil
}

func (r *Rollup) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// largest keeps the n largest values of m (ties by key).
func largest(m map[string]int64, n int) map[string]int64 {
	if len(m) <= n {
		return m
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	out := make(map[string]int64, n)
	for _, k := range keys[:n] {
		out[k] = m[k]
	}
	return out
}
