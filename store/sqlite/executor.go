package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

var (
	querySavepoint         = queries.MustGet("Savepoint")
	querySavepointRelease  = queries.MustGet("SavepointRelease")
	querySavepointRollback = queries.MustGet("SavepointRollback")
)

// querier runs statements: a *sql.DB (a pool) or a *sql.Tx, behind
// DB.classifying (unavailable.go), which sorts their errors.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) scanner
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// executor implements every store.Executor method, on the pool (DB) or in a
// transaction (tx). Reads go to read and writes to write: on the pool the
// read-only pool and the writer connection, in a transaction both the
// transaction. The Lock methods read from write: on SQLite the one writer
// is the lock.
type executor struct {
	db    *DB
	read  querier
	write querier
	tx    *sql.Tx // nil on the pool
	seq   *int    // savepoints begun in tx so far, for their names
}

// tx is a transaction, or a savepoint in one (a nested transaction).
type tx struct {
	executor
	savepoint string // "" for the transaction itself
	group     *group // set for a member of a group commit (group.go)
	done      bool   // committed or rolled back
}

var _ store.ExecutorTx = (*tx)(nil)

// Begin implements store.Executor: on the pool it begins a transaction on
// the writer (BEGIN IMMEDIATE, from the DSN's _txlock), on a transaction a
// savepoint.
func (e *executor) Begin(ctx context.Context) (store.ExecutorTx, error) {
	t, err := e.begin(ctx)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (e *executor) begin(ctx context.Context) (*tx, error) {
	if e.tx == nil && e.db.groups != nil {
		return e.db.beginMember(ctx)
	}
	if e.tx == nil {
		sqlTx, err := e.db.write.BeginTx(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("begin: %w", e.db.classify(err))
		}
		q := e.db.classifying(sqlTx)
		return &tx{executor: executor{db: e.db, read: q, write: q, tx: sqlTx, seq: new(int)}}, nil
	}
	*e.seq++
	name := fmt.Sprintf("sp_%d", *e.seq)
	if _, err := e.write.ExecContext(ctx, fmt.Sprintf(querySavepoint, name)); err != nil {
		return nil, fmt.Errorf("begin savepoint: %w", err)
	}
	return &tx{executor: executor{db: e.db, read: e.write, write: e.write, tx: e.tx, seq: e.seq}, savepoint: name}, nil
}

// Commit implements store.ExecutorTx; on a savepoint it releases it, so
// its writes become the enclosing transaction's.
func (t *tx) Commit(ctx context.Context) error {
	if t.done {
		return fmt.Errorf("commit: %w", sql.ErrTxDone)
	}
	if t.group != nil {
		return t.commitMember(ctx)
	}
	if t.savepoint == "" {
		t.done = true // database/sql ends the transaction even if the commit fails
		if err := t.tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", t.db.classify(err))
		}
		return nil
	}
	if _, err := t.tx.ExecContext(ctx, fmt.Sprintf(querySavepointRelease, t.savepoint)); err != nil {
		return fmt.Errorf("release savepoint: %w", err) // not done: Rollback still undoes it
	}
	t.done = true
	return nil
}

// Rollback implements store.ExecutorTx; on a savepoint it undoes the
// savepoint's writes only. After Commit or Rollback it returns nil, and it
// runs even when ctx is cancelled (it is deferred on error paths).
func (t *tx) Rollback(ctx context.Context) error {
	if t.done {
		return nil
	}
	if t.group != nil {
		return t.rollbackMember(ctx)
	}
	t.done = true
	if t.savepoint == "" {
		if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
			return fmt.Errorf("rollback: %w", err)
		}
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	_, err := t.tx.ExecContext(ctx, fmt.Sprintf(querySavepointRollback, t.savepoint))
	if err == nil {
		_, err = t.tx.ExecContext(ctx, fmt.Sprintf(querySavepointRelease, t.savepoint))
	}
	if err != nil && !errors.Is(err, sql.ErrTxDone) { // ErrTxDone: the whole transaction is gone
		return fmt.Errorf("roll back savepoint: %w", err)
	}
	return nil
}

// atomic runs fn, a method that writes with several statements, all or
// none: in a transaction of its own on the pool. In a transaction it runs
// in it directly, and an error leaves the transaction to its caller to roll
// back, as on PostgreSQL (where a failed statement aborts the transaction
// anyway): a savepoint per batch would copy every page it touches to the
// statement journal, which cost the writer a tenth of its time under load.
// fn reads and writes through the executor it is given.
func (e *executor) atomic(ctx context.Context, fn func(w *executor) error) error {
	if e.tx != nil {
		return fn(e)
	}
	t, err := e.begin(ctx)
	if err != nil {
		return err
	}
	defer t.Rollback(ctx) // a no-op after Commit
	if err := fn(&t.executor); err != nil {
		// Statements of prepared *sql.Stmt are not on a classifying
		// querier: sort their errors here.
		return e.db.classify(err)
	}
	return t.Commit(ctx)
}

// Now implements store.Executor: the driver's clock (Options.Now), in UTC
// at the store's precision. One process owns a SQLite file, so its clock is
// the database's.
func (e *executor) Now(context.Context) (time.Time, error) {
	return e.db.now().UTC().Truncate(store.TimePrecision), nil
}
