package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
)

var (
	queryAuditInsert = queries.MustGet("AuditInsert")
	queryAuditList   = queries.MustGet("AuditList")

	queryHistoryCountOutcomes = queries.MustGet("HistoryCountOutcomes")
	queryHistoryCountErrcodes = queries.MustGet("HistoryCountErrcodes")
	queryHistoryUpsertMany    = queries.MustGet("HistoryUpsertMany")
	queryHistoryDelete        = queries.MustGet("HistoryDelete")
	queryHistoryList          = queries.MustGet("HistoryList")
)

// AuditInsert implements store.Executor.
func (e *executor) AuditInsert(ctx context.Context, a *store.AuditEntry) (int64, error) {
	if err := a.Validate(); err != nil {
		return 0, err
	}
	var id int64
	err := e.q.QueryRow(ctx, queryAuditInsert, timeArg(a.At), a.Actor, a.Action, a.AppID, a.Target, a.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert audit entry: %w", err)
	}
	return id, nil
}

// AuditList implements store.Executor.
func (e *executor) AuditList(ctx context.Context, p *store.AuditListParams) ([]*store.AuditEntry, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := e.q.Query(ctx, queryAuditList, p.Action, p.AppID, p.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEntry
	for rows.Next() {
		a := &store.AuditEntry{}
		var at time.Time
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.AppID, &a.Target, &a.Detail); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		a.At = at.UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// HistoryCountOutcomes implements store.Executor.
func (e *executor) HistoryCountOutcomes(ctx context.Context, from, to time.Time) ([]*store.HistoryCount, error) {
	return e.historyCount(ctx, "count outcomes", queryHistoryCountOutcomes, from, to)
}

// HistoryCountErrcodes implements store.Executor.
func (e *executor) HistoryCountErrcodes(ctx context.Context, from, to time.Time) ([]*store.HistoryCount, error) {
	return e.historyCount(ctx, "count errcodes", queryHistoryCountErrcodes, from, to)
}

func (e *executor) historyCount(ctx context.Context, what, query string, from, to time.Time) ([]*store.HistoryCount, error) {
	rows, err := e.q.Query(ctx, query, timeArg(from), timeArg(to))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []*store.HistoryCount
	for rows.Next() {
		c := &store.HistoryCount{}
		var minute time.Time
		if err := rows.Scan(&minute, &c.Key, &c.N); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		c.Minute = minute.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// HistoryUpsertMany implements store.Executor in one statement.
func (e *executor) HistoryUpsertMany(ctx context.Context, ps []*store.HistoryPoint) error {
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return err
		}
	}
	ps = store.SortHistoryPoints(ps)
	n := len(ps)
	res, series, buckets, keys, values := make([]int32, n), make([]string, n), make([]time.Time, n), make([]string, n), make([]int64, n)
	for i, p := range ps {
		res[i], series[i], buckets[i], keys[i], values[i] = int32(p.Resolution), p.Series, p.Bucket.Truncate(store.TimePrecision).UTC(), p.Key, p.Value
	}
	if _, err := e.q.Exec(ctx, queryHistoryUpsertMany, res, series, buckets, keys, values); err != nil {
		return fmt.Errorf("upsert history: %w", err)
	}
	return nil
}

// historyRange returns the arguments of a range: resolution, series (NULL
// for every series), from and to.
func historyRange(p *store.HistoryRangeParams) []any {
	from := timeArg(p.From)
	if from == nil {
		from = time.Unix(0, 0).UTC()
	}
	return []any{p.Resolution, p.Series, from, timeArg(p.To)}
}

// HistoryDelete implements store.Executor.
func (e *executor) HistoryDelete(ctx context.Context, p *store.HistoryRangeParams) (int64, error) {
	tag, err := e.q.Exec(ctx, queryHistoryDelete, historyRange(p)...)
	if err != nil {
		return 0, fmt.Errorf("delete history: %w", err)
	}
	return tag.RowsAffected(), nil
}

// HistoryList implements store.Executor.
func (e *executor) HistoryList(ctx context.Context, p *store.HistoryRangeParams) ([]*store.HistoryPoint, error) {
	rows, err := e.q.Query(ctx, queryHistoryList, historyRange(p)...)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.HistoryPoint, error) {
		pt := &store.HistoryPoint{}
		var bucket time.Time
		if err := row.Scan(&pt.Resolution, &pt.Series, &bucket, &pt.Key, &pt.Value); err != nil {
			return nil, fmt.Errorf("list history: %w", err)
		}
		pt.Bucket = bucket.UTC()
		return pt, nil
	})
}
