// Package postgres implements store.Store on PostgreSQL with pgx (pgxpool).
//
// Several instances of wxnotify may share one database: every method is one
// statement, atomic on its own, and migrations take a session advisory lock
// so that instances starting together apply them once.
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

// DB is a PostgreSQL database opened as a store.Store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

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
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{pool: pool}
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Engine returns "postgres".
func (db *DB) Engine() string { return "postgres" }

// Pool returns the connection pool, for tests and tools.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Migrate applies every pending migration in migration/ through goose on a
// database/sql adapter of the pool. It holds a session advisory lock whose
// id is derived from the current schema, so instances sharing a schema
// migrate one at a time while tests in different schemas do not wait on
// each other.
func (db *DB) Migrate(ctx context.Context) error {
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&schema); err != nil {
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
	db.pool.Close()
	return nil
}

// AppInsert implements store.Executor.
func (db *DB) AppInsert(ctx context.Context, p *store.AppInsertParams) error {
	_, err := db.pool.Exec(ctx, queryAppInsert,
		p.AppID, p.Name, p.SecretSealed, p.TokenMode, timeArg(p.Now))
	if pgCode(err) == codeUniqueViolation {
		return store.ErrConflict
	} else if err != nil {
		return fmt.Errorf("insert app: %w", err)
	}
	return nil
}

// AppGet implements store.Executor.
func (db *DB) AppGet(ctx context.Context, appID string) (*store.App, error) {
	app, err := scanApp(db.pool.QueryRow(ctx, queryAppGet, appID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	return app, nil
}

// AppList implements store.Executor.
func (db *DB) AppList(ctx context.Context) ([]*store.App, error) {
	rows, err := db.pool.Query(ctx, queryAppList)
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
// (ON DELETE CASCADE).
func (db *DB) AppDelete(ctx context.Context, appID string) error {
	tag, err := db.pool.Exec(ctx, queryAppDelete, appID)
	if err != nil {
		return fmt.Errorf("delete app: %w", err)
	} else if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TokenGet implements store.Executor.
func (db *DB) TokenGet(ctx context.Context, appID string) (*store.Token, error) {
	var (
		t                                store.Token
		expiresAt, fetchedAt, leaseUntil *time.Time
		lastErrorAt, retryAt             *time.Time
		leaseHolder, lastError           *string
	)
	err := db.pool.QueryRow(ctx, queryTokenGet, appID).Scan(
		&t.AppID, &t.ValueSealed, &expiresAt, &fetchedAt, &t.Generation, &t.Fetches,
		&leaseHolder, &leaseUntil, &lastError, &lastErrorAt, &retryAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	} else if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	t.ExpiresAt = timeValue(expiresAt)
	t.FetchedAt = timeValue(fetchedAt)
	t.LeaseHolder = stringValue(leaseHolder)
	t.LeaseUntil = timeValue(leaseUntil)
	t.LastError = stringValue(lastError)
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
	err := db.pool.QueryRow(ctx, queryTokenLeaseAcquire,
		p.AppID, p.Holder, timeArg(p.Now), timeArg(p.Until)).Scan(&appID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case pgCode(err) == codeForeignKeyViolation:
		return false, store.ErrNotFound
	case err != nil:
		return false, fmt.Errorf("acquire token lease: %w", err)
	}
	return true, nil
}

// TokenLeaseRelease implements store.Executor.
func (db *DB) TokenLeaseRelease(ctx context.Context, appID, holder string) error {
	if _, err := db.pool.Exec(ctx, queryTokenLeaseRelease, appID, holder); err != nil {
		return fmt.Errorf("release token lease: %w", err)
	}
	return nil
}

// TokenSave implements store.Executor.
func (db *DB) TokenSave(ctx context.Context, p *store.TokenSaveParams) (bool, error) {
	tag, err := db.pool.Exec(ctx, queryTokenSave,
		p.AppID, p.Holder, p.ValueSealed, timeArg(p.ExpiresAt), timeArg(p.Now))
	if err != nil {
		return false, fmt.Errorf("save token: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// TokenSaveError implements store.Executor.
func (db *DB) TokenSaveError(ctx context.Context, p *store.TokenSaveErrorParams) error {
	if _, err := db.pool.Exec(ctx, queryTokenSaveError,
		p.AppID, p.Holder, p.Message, timeArg(p.Now), timeArg(p.RetryAt)); err != nil {
		return fmt.Errorf("save token error: %w", err)
	}
	return nil
}

func scanApp(row pgx.Row) (*store.App, error) {
	var app store.App
	if err := row.Scan(&app.AppID, &app.Name, &app.SecretSealed, &app.TokenMode, &app.CreatedAt); err != nil {
		return nil, err
	}
	app.CreatedAt = app.CreatedAt.UTC()
	return &app, nil
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
