// Package sqlite implements store.Store on SQLite, for a single node.
//
// The database runs in WAL mode, so readers never block the writer. Each DB
// has one writer connection, through which every write goes, and a separate
// pool of read-only connections for reads: SQLite allows one writer at a time
// anyway, and queueing writes in Go is cheaper than having connections spin
// on SQLITE_BUSY. Several DBs (or processes) may open the same file; their
// writes then wait on each other through busy_timeout.
//
// Times are stored as INTEGER unix microseconds in UTC (store.TimePrecision).
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
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

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
	return o, nil
}

//go:embed migration/*.sql
var migrations embed.FS

// DB is a SQLite database opened as a store.Store.
type DB struct {
	path  string
	write *sql.DB // exactly one connection: every write goes here
	read  *sql.DB // read-only pool
}

var _ store.Store = (*DB)(nil)

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
	db := &DB{path: path}
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

	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
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
	var errs []error
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	return errors.Join(errs...)
}

// AppInsert implements store.Executor.
func (db *DB) AppInsert(ctx context.Context, p *store.AppInsertParams) error {
	_, err := db.write.ExecContext(ctx, queryAppInsert,
		p.AppID, p.Name, p.SecretSealed, p.TokenMode, timeArg(p.Now))
	if isUniqueViolation(err) {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	return nil
}

// AppGet implements store.Executor.
func (db *DB) AppGet(ctx context.Context, appID string) (*store.App, error) {
	app, err := scanApp(db.read.QueryRowContext(ctx, queryAppGet, appID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	return app, nil
}

// AppList implements store.Executor.
func (db *DB) AppList(ctx context.Context) ([]*store.App, error) {
	rows, err := db.read.QueryContext(ctx, queryAppList)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	defer rows.Close()
	apps := []*store.App{}
	for rows.Next() {
		app, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		apps = append(apps, app)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return apps, nil
}

// AppDelete implements store.Executor. The token row goes with the app
// (ON DELETE CASCADE; foreign_keys is on for every connection).
func (db *DB) AppDelete(ctx context.Context, appID string) error {
	res, err := db.write.ExecContext(ctx, queryAppDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app: %w", err)
	}
	return oneRow(res, "delete app")
}

// TokenGet implements store.Executor.
func (db *DB) TokenGet(ctx context.Context, appID string) (*store.Token, error) {
	var (
		t                                store.Token
		expiresAt, fetchedAt, leaseUntil sql.NullInt64
		lastErrorAt, retryAt             sql.NullInt64
		leaseHolder, lastError           sql.NullString
	)
	err := db.read.QueryRowContext(ctx, queryTokenGet, appID).Scan(
		&t.AppID, &t.ValueSealed, &expiresAt, &fetchedAt, &t.Generation, &t.Fetches,
		&leaseHolder, &leaseUntil, &lastError, &lastErrorAt, &retryAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	t.ExpiresAt = timeValue(expiresAt)
	t.FetchedAt = timeValue(fetchedAt)
	t.LeaseHolder = leaseHolder.String
	t.LeaseUntil = timeValue(leaseUntil)
	t.LastError = lastError.String
	t.LastErrorAt = timeValue(lastErrorAt)
	t.RetryAt = timeValue(retryAt)
	return &t, nil
}

// TokenLeaseAcquire implements store.Executor.
func (db *DB) TokenLeaseAcquire(ctx context.Context, p *store.TokenLeaseAcquireParams) (bool, error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	var appID string
	err := db.write.QueryRowContext(ctx, queryTokenLeaseAcquire,
		p.AppID, p.Holder, timeArg(p.Now), timeArg(p.Until)).Scan(&appID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case isForeignKeyViolation(err):
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("acquire token lease: %w", err)
	}
	return true, nil
}

// TokenLeaseRelease implements store.Executor.
func (db *DB) TokenLeaseRelease(ctx context.Context, appID, holder string) error {
	if _, err := db.write.ExecContext(ctx, queryTokenLeaseRelease, appID, holder); err != nil {
		return fmt.Errorf("release token lease: %w", err)
	}
	return nil
}

// TokenSave implements store.Executor.
func (db *DB) TokenSave(ctx context.Context, p *store.TokenSaveParams) (bool, error) {
	res, err := db.write.ExecContext(ctx, queryTokenSave,
		p.AppID, p.Holder, p.ValueSealed, timeArg(p.ExpiresAt), timeArg(p.Now))
	if err != nil {
		return false, fmt.Errorf("save token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("save token: %w", err)
	}
	return n == 1, nil
}

// TokenSaveError implements store.Executor.
func (db *DB) TokenSaveError(ctx context.Context, p *store.TokenSaveErrorParams) error {
	if _, err := db.write.ExecContext(ctx, queryTokenSaveError,
		p.AppID, p.Holder, p.Message, timeArg(p.Now), timeArg(p.RetryAt)); err != nil {
		return fmt.Errorf("save token error: %w", err)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanApp(s scanner) (*store.App, error) {
	var (
		app       store.App
		createdAt sql.NullInt64
	)
	if err := s.Scan(&app.AppID, &app.Name, &app.SecretSealed, &app.TokenMode, &createdAt); err != nil {
		return nil, err
	}
	app.CreatedAt = timeValue(createdAt)
	return &app, nil
}

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
