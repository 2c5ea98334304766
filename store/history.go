package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// HistoryPoint is one value of the dashboard's history (the rollup table):
// the Value of Key in Series for the bucket of Resolution seconds that
// starts at Bucket. Series and keys are the history package's; the store
// gives them no meaning.
type HistoryPoint struct {
	Resolution int // seconds: 60 or 3600
	Bucket     time.Time
	Series     string
	Key        string
	Value      int64
}

// Validate reports a malformed point.
func (p *HistoryPoint) Validate() error {
	switch {
	case p.Resolution <= 0:
		return fmt.Errorf("store: history point: Resolution %d not positive", p.Resolution)
	case p.Bucket.IsZero() || p.Series == "":
		return fmt.Errorf("store: history point: Bucket and Series required")
	}
	return nil
}

// HistoryRangeParams select the points of some series in [From, To).
type HistoryRangeParams struct {
	Resolution int
	Series     []string // nil: every series
	From, To   time.Time
}

// HistoryCount is one group of a count over the message or attempt table:
// N rows with Key in the minute that starts at Minute.
type HistoryCount struct {
	Minute time.Time
	Key    string
	N      int64
}

// SortHistoryPoints returns ps ordered by their key (Resolution, Series,
// Bucket, Key) with each key once, holding its last value in ps, for
// drivers of HistoryUpsertMany: one statement may not change a row twice,
// and concurrent writers lock rows in one order.
func SortHistoryPoints(ps []*HistoryPoint) []*HistoryPoint {
	out := slices.Clone(ps)
	slices.SortStableFunc(out, func(a, b *HistoryPoint) int {
		return cmp.Or(cmp.Compare(a.Resolution, b.Resolution), cmp.Compare(a.Series, b.Series),
			a.Bucket.Compare(b.Bucket), cmp.Compare(a.Key, b.Key))
	})
	n := 0
	for i, p := range out {
		if i+1 < len(out) {
			q := out[i+1]
			if p.Resolution == q.Resolution && p.Series == q.Series && p.Bucket.Equal(q.Bucket) && p.Key == q.Key {
				continue // the later one of the same key wins
			}
		}
		out[n] = p
		n++
	}
	return out[:n]
}
