package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

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
	err := e.write.QueryRowContext(ctx, queryAuditInsert, timeArg(a.At), a.Actor, a.Action, a.AppID, a.Target, a.Detail).Scan(&id)
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
	rows, err := e.read.QueryContext(ctx, queryAuditList, p.Action, p.AppID, p.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEntry
	for rows.Next() {
		a := &store.AuditEntry{}
		var at sql.NullInt64
		if err := rows.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.AppID, &a.Target, &a.Detail); err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		a.At = timeValue(at)
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
	rows, err := e.read.QueryContext(ctx, query, timeArg(from), timeArg(to))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []*store.HistoryCount
	for rows.Next() {
		c := &store.HistoryCount{}
		var minute sql.NullInt64
		if err := rows.Scan(&minute, &c.Key, &c.N); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		c.Minute = timeValue(minute)
		out = append(out, c)
	}
	return out, rows.Err()
}

// HistoryUpsertMany implements store.Executor in one statement.
func (e *executor) HistoryUpsertMany(ctx context.Context, ps []*store.HistoryPoint) error {
	if len(ps) == 0 {
		return nil
	}
	ps = store.SortHistoryPoints(ps)
	rows := make([][5]any, len(ps))
	for i, p := range ps {
		if err := p.Validate(); err != nil {
			return err
		}
		rows[i] = [5]any{p.Resolution, p.Series, timeArg(p.Bucket), p.Key, p.Value}
	}
	js, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("upsert history: %w", err)
	}
	if _, err := e.write.ExecContext(ctx, queryHistoryUpsertMany, string(js)); err != nil {
		return fmt.Errorf("upsert history: %w", err)
	}
	return nil
}

// historyRange returns the arguments of a range: resolution, series (a JSON
// array or NULL), from and to.
func historyRange(p *store.HistoryRangeParams) ([]any, error) {
	var series any
	if p.Series != nil {
		b, err := json.Marshal(p.Series)
		if err != nil {
			return nil, err
		}
		series = string(b)
	}
	from := timeArg(p.From)
	if from == nil {
		from = int64(0)
	}
	return []any{p.Resolution, series, from, timeArg(p.To)}, nil
}

// HistoryDelete implements store.Executor.
func (e *executor) HistoryDelete(ctx context.Context, p *store.HistoryRangeParams) (int64, error) {
	args, err := historyRange(p)
	if err != nil {
		return 0, fmt.Errorf("delete history: %w", err)
	}
	res, err := e.write.ExecContext(ctx, queryHistoryDelete, args...)
	if err != nil {
		return 0, fmt.Errorf("delete history: %w", err)
	}
	return res.RowsAffected()
}

// HistoryList implements store.Executor.
func (e *executor) HistoryList(ctx context.Context, p *store.HistoryRangeParams) ([]*store.HistoryPoint, error) {
	args, err := historyRange(p)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	rows, err := e.read.QueryContext(ctx, queryHistoryList, args...)
	if err != nil {
		return nil, fmt.Errorf("list history: %w", err)
	}
	defer rows.Close()
	var out []*store.HistoryPoint
	for rows.Next() {
		pt := &store.HistoryPoint{}
		var bucket sql.NullInt64
		if err := rows.Scan(&pt.Resolution, &pt.Series, &bucket, &pt.Key, &pt.Value); err != nil {
			return nil, fmt.Errorf("list history: %w", err)
		}
		pt.Bucket = timeValue(bucket)
		out = append(out, pt)
	}
	return out, rows.Err()
}
