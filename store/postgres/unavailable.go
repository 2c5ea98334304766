package postgres

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxnotify/wxnotify/store"
)

// classifying is the one place the driver's errors are sorted: every
// statement of an executor runs on one (around the pool, or a transaction),
// and every error it returns, from the statement, its rows, its batch or
// the transaction's end, goes through classify, so an outage of the
// database reaches every caller as store.ErrUnavailable (and so as
// EUNAVAILABLE: 503, retry later) instead of an internal error, whatever
// method met it.
type classifying struct {
	q      querier
	closed *atomic.Bool // the DB was closed: its pool refuses every statement
}

// classify marks the errors that say the database cannot serve now.
func (c *classifying) classify(err error) error {
	if err == nil || errors.Is(err, pgx.ErrNoRows) || errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err) || c.closed.Load() {
		return store.Unavailable(err)
	}
	return store.Classify(err)
}

func (c *classifying) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag, c.classify(err)
}

func (c *classifying) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := c.q.Query(ctx, sql, args...)
	if err != nil {
		return rows, c.classify(err)
	}
	return &classifiedRows{Rows: rows, c: c}, nil
}

func (c *classifying) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return classifiedRow{row: c.q.QueryRow(ctx, sql, args...), c: c}
}

func (c *classifying) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return &classifiedBatch{BatchResults: c.q.SendBatch(ctx, b), c: c}
}

func (c *classifying) Begin(ctx context.Context) (pgx.Tx, error) {
	t, err := c.q.Begin(ctx)
	if err != nil {
		return nil, c.classify(err)
	}
	return &classifiedTx{Tx: t, c: &classifying{q: t, closed: c.closed}}, nil
}

// classifiedTx is a transaction whose statements and end are classified.
type classifiedTx struct {
	pgx.Tx
	c *classifying
}

func (t *classifiedTx) Begin(ctx context.Context) (pgx.Tx, error) { return t.c.Begin(ctx) }
func (t *classifiedTx) Commit(ctx context.Context) error          { return t.c.classify(t.Tx.Commit(ctx)) }
func (t *classifiedTx) Rollback(ctx context.Context) error        { return t.c.classify(t.Tx.Rollback(ctx)) }
func (t *classifiedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.c.Exec(ctx, sql, args...)
}
func (t *classifiedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.c.Query(ctx, sql, args...)
}
func (t *classifiedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.c.QueryRow(ctx, sql, args...)
}
func (t *classifiedTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.c.SendBatch(ctx, b)
}

type classifiedRows struct {
	pgx.Rows
	c *classifying
}

func (r *classifiedRows) Err() error             { return r.c.classify(r.Rows.Err()) }
func (r *classifiedRows) Scan(dest ...any) error { return r.c.classify(r.Rows.Scan(dest...)) }
func (r *classifiedRows) Values() ([]any, error) {
	v, err := r.Rows.Values()
	return v, r.c.classify(err)
}
func (r classifiedRow) Scan(dest ...any) error { return r.c.classify(r.row.Scan(dest...)) }
func (b *classifiedBatch) Exec() (pgconn.CommandTag, error) {
	t, err := b.BatchResults.Exec()
	return t, b.c.classify(err)
}
func (b *classifiedBatch) QueryRow() pgx.Row {
	return classifiedRow{row: b.BatchResults.QueryRow(), c: b.c}
}
func (b *classifiedBatch) Close() error { return b.c.classify(b.BatchResults.Close()) }

func (b *classifiedBatch) Query() (pgx.Rows, error) {
	rows, err := b.BatchResults.Query()
	if err != nil {
		return rows, b.c.classify(err)
	}
	return &classifiedRows{Rows: rows, c: b.c}, nil
}

type classifiedRow struct {
	row pgx.Row
	c   *classifying
}

type classifiedBatch struct {
	pgx.BatchResults
	c *classifying
}
