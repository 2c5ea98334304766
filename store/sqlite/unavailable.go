package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/wxnotify/wxnotify/store"
)

// classify is the one place the driver's errors are sorted: an error that
// says the database cannot serve now (isUnavailableCode, the DB closed, or
// what store.Classify recognises) is marked store.ErrUnavailable, so it
// reaches every caller as EUNAVAILABLE (503, retry later) rather than as an
// internal error. Every statement runs on a classifying querier, and the
// ends of transactions and multi-statement methods pass their errors here.
func (db *DB) classify(err error) error {
	if err == nil || errors.Is(err, sql.ErrNoRows) || errors.Is(err, sql.ErrTxDone) {
		return err
	}
	if db.closed.Load() || isUnavailableCode(err) {
		return store.Unavailable(err)
	}
	return store.Classify(err)
}

// classifying runs statements on q and classifies their errors.
type classifying struct {
	q  rawQuerier
	db *DB
}

// rawQuerier is what database/sql's *sql.DB and *sql.Tx offer.
type rawQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func (db *DB) classifying(q rawQuerier) querier { return &classifying{q: q, db: db} }

func (c *classifying) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	return res, c.db.classify(err)
}

func (c *classifying) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	return rows, c.db.classify(err)
}

func (c *classifying) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	return classifiedRow{row: c.q.QueryRowContext(ctx, query, args...), db: c.db}
}

func (c *classifying) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	stmt, err := c.q.PrepareContext(ctx, query)
	return stmt, c.db.classify(err)
}

type classifiedRow struct {
	row *sql.Row
	db  *DB
}

func (r classifiedRow) Scan(dest ...any) error { return r.db.classify(r.row.Scan(dest...)) }
