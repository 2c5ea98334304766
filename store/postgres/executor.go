package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wxnotify/wxnotify/internal/sqlfile"
	"github.com/wxnotify/wxnotify/store"
)

//go:embed sql/*.sql
var sqlFS embed.FS

// queries is every statement of the driver, by name (sql/*.sql).
var queries = sqlfile.MustLoad(sqlFS, "sql/*.sql")

var (
	queryNow           = queries.MustGet("Now")
	queryCurrentSchema = queries.MustGet("CurrentSchema")
)

// querier is what an executor runs its statements on: the pool
// (*pgxpool.Pool, each statement in its own implicit transaction) or a
// transaction (pgx.Tx, whose Begin makes a savepoint).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// executor implements every store.Executor method on q. DB embeds one on
// the pool; Begin returns one on a transaction (tx).
type executor struct {
	q    querier
	inTx bool // q is a transaction
}

// tx is an executor in a transaction, or in a savepoint of one.
type tx struct {
	executor
	tx pgx.Tx
}

var _ store.ExecutorTx = (*tx)(nil)

// Begin implements store.Executor: on the pool it starts a transaction (at
// the server's default isolation, READ COMMITTED, which the statements'
// locking is written for), on a transaction a savepoint.
func (e *executor) Begin(ctx context.Context) (store.ExecutorTx, error) {
	t, err := e.q.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return &tx{executor: executor{q: t, inTx: true}, tx: t}, nil
}

// Commit implements store.ExecutorTx: COMMIT, or RELEASE SAVEPOINT. A
// transaction in which a statement failed cannot commit: PostgreSQL rolls
// it back and Commit returns an error.
func (t *tx) Commit(ctx context.Context) error {
	if err := t.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Rollback implements store.ExecutorTx: ROLLBACK, or ROLLBACK TO
// SAVEPOINT. After Commit (or Rollback) it does nothing and returns nil.
func (t *tx) Rollback(ctx context.Context) error {
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// Now implements store.Executor: the database's now(), which in a
// transaction is the time it started.
func (e *executor) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := e.q.QueryRow(ctx, queryNow).Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("now: %w", err)
	}
	return now.UTC().Truncate(store.TimePrecision), nil
}

// atomic runs fn, whose statements must be all or none: on the pool in a
// transaction of its own, committed when fn succeeds; in a transaction
// directly in it, without a savepoint (a failed statement aborts the
// caller's transaction anyway, which it then rolls back). fn wraps its own
// errors; what names the operation in the errors of BEGIN and COMMIT.
func (e *executor) atomic(ctx context.Context, what string, fn func(q querier) error) error {
	if e.inTx {
		return fn(e.q)
	}
	t, err := e.q.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer t.Rollback(ctx)
	if err := fn(t); err != nil {
		return err
	}
	if err := t.Commit(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
