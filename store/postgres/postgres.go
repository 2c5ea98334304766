// Package postgres implements store.Driver on PostgreSQL with pgx
// (pgxpool).
//
// DB is the driver: it owns the connection pool and is a store.Executor on
// it, each method atomic on its own (one statement, or a short transaction
// of its own where a method needs several). Begin starts a transaction: an
// executor on a pgx.Tx with the same methods, whose Begin makes a
// savepoint (a nested transaction), and whose Commit and Rollback end it
// (release or roll back to the savepoint; Rollback after Commit returns
// nil, so it can be deferred). Methods that need several statements to be
// all or none run on the transaction directly when they are called in one.
// A statement that fails aborts the whole transaction (PostgreSQL's rule):
// roll it back, or back to a savepoint begun before the failure, which
// leaves the transaction usable. Transactions are READ COMMITTED; the
// statements that must not take a row twice lock it (FOR UPDATE, with SKIP
// LOCKED where a concurrent claimer should take the next row instead of
// waiting), as each statement's comment in sql/ says.
//
// Every SQL statement is in sql/*.sql, one file per area, named sqlc-style
// ("-- name: MessageLockDue") and loaded with internal/sqlfile into package
// variables, so a missing one fails at start. The driver's Go code makes no
// product decision: states and credit kinds decided by the caller are
// parameters, and those a statement sets by its definition are in its SQL.
//
// Several instances of wxnotify may share one database. They agree on time
// through the database's clock: Now is now() (the start of the transaction,
// in one), which package queue uses for due times, leases and expiry,
// whatever each instance's own clock says. Migrations take a session
// advisory lock so that instances starting together apply them once.
//
// Times are timestamptz; the driver truncates them to store.TimePrecision
// (microseconds, what timestamptz keeps) and returns them in UTC.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/wxnotify/wxnotify/store"
)

// PostgreSQL error codes mapped at the driver boundary.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// DefaultMaxConns sizes the pool for the delivery pipeline's concurrent
// group commits, claims and API reads (docs/decisions.md measured 8–32 alike).
const DefaultMaxConns = 16

// DefaultIdleInTransactionTimeout ends a session left idle inside a
// transaction, releasing its locks, unless the DSN sets
// idle_in_transaction_session_timeout.
const DefaultIdleInTransactionTimeout = "30s"

// DefaultConnectTimeout bounds one connection attempt unless the DSN sets
// connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Options configure a DB; the zero value gives the defaults.
type Options struct {
	// Schema, if set, is the only schema on the search_path of every
	// connection: the tables (and goose's version table) live there. It
	// must exist. Tests use it to give each test its own schema. Empty
	// keeps the DSN's search_path (by default "$user", public).
	Schema string
	// MaxConns bounds the pool; 0 means DefaultMaxConns. A DSN's
	// pool_max_conns overrides both.
	MaxConns int32
}

//go:embed migration/*.sql
var migrations embed.FS

// DB is a PostgreSQL database opened as a store.Driver: the executor on
// its pool.
type DB struct {
	executor
	pool   *pgxpool.Pool
	closed atomic.Bool // set by Close: every statement after it is unavailable
}

var _ store.Driver = (*DB)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string) and applies pending migrations.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = opts.MaxConns
	}
	// Without a bound, a connection attempt to a server that drops packets
	// waits for the kernel's TCP timeout (minutes), and so does every
	// request that needs a new connection; bounded, it fails as unavailable.
	if !strings.Contains(dsn, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	// An instance stopped (SIGSTOP, a VM pause, a network cut) in the
	// middle of a transaction holds its row locks until the server ends the
	// session; the other instances' claims, outcomes and recovery of those
	// rows would wait that long. The queue's transactions last milliseconds.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = DefaultIdleInTransactionTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{pool: pool}
	db.executor = executor{q: &classifying{q: pool, closed: &db.closed}}
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Engine implements store.Driver: "postgres".
func (db *DB) Engine() string { return "postgres" }

// Capabilities implements store.Driver: several instances may share the
// database.
func (db *DB) Capabilities() store.Capabilities {
	return store.Capabilities{SharedByInstances: true}
}

// Pool returns the connection pool, for tests and tools.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Migrate applies every pending migration in migration/ through goose on a
// database/sql adapter of the pool. It holds a session advisory lock whose
// id is derived from the current schema, so instances sharing a schema
// migrate one at a time while tests in different schemas do not wait on
// each other.
func (db *DB) Migrate(ctx context.Context) error {
	var schema string
	if err := db.pool.QueryRow(ctx, queryCurrentSchema).Scan(&schema); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	if schema == "" {
		return errors.New("migrate postgres: no schema on the search_path exists")
	}
	h := fnv.New64a()
	h.Write([]byte("wxnotify migrate " + schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64())),
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	fsys, err := fs.Sub(migrations, "migration")
	if err != nil {
		return err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error {
	db.closed.Store(true)
	db.pool.Close()
	return nil
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// timeArg is t as stored: truncated to store.TimePrecision in UTC, or NULL
// for zero.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(store.TimePrecision).UTC()
}

// timeValue reverses timeArg.
func timeValue(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func stringValue(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
