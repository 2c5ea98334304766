// Package sqlite implements store.Driver on SQLite, for a single node.
//
// The database runs in WAL mode, so readers never block the writer. Each DB
// has one writer connection, through which every write goes, and a separate
// pool of read-only connections for reads: SQLite allows one writer at a time
// anyway, and queueing writes in Go is cheaper than having connections spin
// on SQLITE_BUSY. Several DBs (or processes) may open the same file; their
// writes then wait on each other through busy_timeout.
//
// A DB is the store.Executor on the pool: its reads go to the read pool, its
// writes to the writer, and a method that writes with several statements
// runs them in a transaction of its own. Begin starts a transaction on the
// writer (BEGIN IMMEDIATE, so it holds the write lock from its start and
// never fails with SQLITE_BUSY halfway); in it, reads and writes both go to
// the transaction, so it reads its own writes, and nothing else writes until
// it ends: that is how the Lock methods lock (there is no FOR UPDATE), and
// why the store reports Capabilities.SingleWriter. Begin on a transaction
// starts a nested one, a SAVEPOINT, which Commit releases and Rollback rolls
// back to; a multi-statement method called in a transaction runs in a
// savepoint too, so it stays all or none. An open transaction holds the
// writer: a write on the DB waits until it ends, so code in a transaction
// does everything through the transaction. Executor.Now is the driver's own
// clock (Options.Now): one process owns the file.
//
// The SQL is in sql/*.sql, one file per area, as named statements
// (internal/sqlfile) loaded at package init; the Go code binds arguments
// and scans rows. Times are stored as INTEGER unix microseconds in UTC
// (store.TimePrecision).
//
// Known weakness: goose has no lock for SQLite, so two processes opening a
// brand-new file at the same instant may race the first migration, and one of
// them fails. Open once (or run the migrate command) before starting several.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wxnotify/wxnotify/internal/sqlfile"
	"github.com/wxnotify/wxnotify/store"
)

// Defaults for Options.
const (
	// DefaultSynchronous is PRAGMA synchronous=NORMAL: in WAL mode a commit
	// survives a crash of the process but may be lost (never corrupted) on a
	// power loss or OS crash. FULL also survives those, at an fsync per commit.
	DefaultSynchronous = "NORMAL"
	// DefaultBusyTimeout is how long a write waits for another connection's
	// lock on the same file before failing with SQLITE_BUSY.
	DefaultBusyTimeout = 5 * time.Second
)

// Options configure a DB; the zero value gives the defaults.
type Options struct {
	// Synchronous is PRAGMA synchronous for writes: "OFF", "NORMAL", "FULL"
	// or "EXTRA". Default DefaultSynchronous.
	Synchronous string
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection. Default DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxReadConns bounds the read pool. Default max(4, GOMAXPROCS).
	MaxReadConns int
	// Now is the clock Executor.Now reads (the queue's due times, leases
	// and expiry). Default time.Now.
	Now func() time.Time
	// GroupSize is how many transactions begun on the pool at about the
	// same moment share one SQLite transaction, each in a savepoint
	// (group.go). Default DefaultGroupSize; 1 gives every transaction its
	// own.
	GroupSize int
}

func (o Options) withDefaults() (Options, error) {
	if o.Synchronous == "" {
		o.Synchronous = DefaultSynchronous
	}
	o.Synchronous = strings.ToUpper(o.Synchronous)
	switch o.Synchronous {
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return o, fmt.Errorf("sqlite: unknown synchronous %q", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.MaxReadConns <= 0 {
		o.MaxReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GroupSize <= 0 {
		o.GroupSize = DefaultGroupSize
	}
	return o, nil
}

//go:embed migration/*.sql
var migrations embed.FS

//go:embed sql/*.sql
var sqlFS embed.FS

// queries are the named statements of sql/*.sql. Each file of the package
// takes its own into package variables, so a missing one fails at start.
var queries = sqlfile.MustLoad(sqlFS, "sql/*.sql")

// DB is a SQLite database opened as a store.Driver: the executor on the
// pool, and the pools themselves.
type DB struct {
	executor // on the pool: reads on read, writes on write

	path  string
	write *sql.DB // exactly one connection: every write goes here
	read  *sql.DB // read-only pool
	now   func() time.Time
	// groups share write transactions begun at the same moment; nil when
	// GroupSize is 1.
	groups *groups
	closed atomic.Bool // set by Close: every statement after it is unavailable
}

var _ store.Driver = (*DB)(nil)

// Open opens (creating if needed) the SQLite database file at path and
// applies pending migrations. The parent directory must exist.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	db := &DB{path: path, now: opts.Now}
	if opts.GroupSize > 1 {
		db.groups = newGroups(opts.GroupSize)
	}
	if db.write, err = openPool(ctx, path, opts, true); err != nil {
		return nil, err
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxIdleTime(0)
	db.write.SetConnMaxLifetime(0)

	// The writer is open (and has set WAL) before any reader connects.
	if db.read, err = openPool(ctx, path, opts, false); err != nil {
		db.write.Close()
		return nil, err
	}
	db.read.SetMaxOpenConns(opts.MaxReadConns)
	db.read.SetMaxIdleConns(opts.MaxReadConns)
	db.executor = executor{db: db, read: db.classifying(db.read), write: db.classifying(db.write)}

	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// createPrivate creates the database file, if it does not exist, readable
// by its owner only (0600, whatever the umask): it holds openids, form_ids
// and message data. SQLite creates the -wal and -shm files with the mode of
// the database file, so they are 0600 too. An existing file keeps its mode:
// the operator may have chosen one (a group for backups), and wxnotify does
// not widen or narrow it behind their back.
func createPrivate(path string) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil // not a plain file: SQLite's to open
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil { // the umask may have taken bits away
		return fmt.Errorf("create sqlite %s: %w", path, err)
	}
	return nil
}

func openPool(ctx context.Context, path string, opts Options, writer bool) (*sql.DB, error) {
	dsn, err := dataSourceName(path, opts, writer)
	if err != nil {
		return nil, err
	}
	pool, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return pool, nil
}

// Capabilities implements store.Driver: every write goes through the one
// writer connection.
func (db *DB) Capabilities() store.Capabilities {
	return store.Capabilities{SingleWriter: true}
}

// Engine returns "sqlite".
func (db *DB) Engine() string { return "sqlite" }

// Path returns the file the DB was opened on.
func (db *DB) Path() string { return db.path }

// Migrate applies every pending migration in migration/.
func (db *DB) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migration")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.write, fsys)
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.closed.Store(true)
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// oneRow returns store.ErrNotFound unless res affected a row.
func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// timeArg is t as stored: unix microseconds in UTC, or NULL for zero.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(store.TimePrecision).UnixMicro()
}

// timeValue reverses timeArg.
func timeValue(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}
