// Package testdb gives other packages' tests a fresh database on every
// engine: SQLite always, PostgreSQL when PostgresEnv names a server.
//
// It is the one place tests reach the drivers by name. The conformance
// suite itself, store/storetest, is driver-agnostic: it imports no driver,
// and each driver's test passes its own database maker in
// (storetest.Exercise(t, newDB)).
//
// A test database is reached through a storetest.OpenFunc, which opens a
// new, separate Driver on the same database each time it is called, as a
// second instance of wxnotify would. Tests of multi-instance behaviour call
// it twice:
//
//	for _, e := range testdb.Engines(t) {
//		t.Run(e.Name, func(t *testing.T) {
//			t.Parallel()
//			open := e.NewDB(t) // fresh database for this test alone
//			a, b := open(t), open(t)
//			...
//		})
//	}
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/postgres"
	"github.com/wxnotify/wxnotify/store/sqlite"
	"github.com/wxnotify/wxnotify/store/storetest"
)

// PostgresEnv names the environment variable holding the DSN of a PostgreSQL
// database for tests. Unset, PostgreSQL tests are skipped; set, they must
// reach the server or fail.
const PostgresEnv = "WXNOTIFY_TEST_POSTGRES"

// Engine is one database engine for tests.
type Engine struct {
	Name  string // "sqlite" or "postgres", as Driver.Engine returns
	NewDB storetest.NewDBFunc
}

// Engines returns SQLite always, and PostgreSQL when PostgresEnv is set.
func Engines(t testing.TB) []Engine {
	t.Helper()
	engines := []Engine{{Name: "sqlite", NewDB: NewSQLiteDB}}
	if os.Getenv(PostgresEnv) != "" {
		engines = append(engines, Engine{Name: "postgres", NewDB: NewPostgresDB})
	}
	return engines
}

// NewSQLiteDB creates a SQLite database file in t.TempDir().
func NewSQLiteDB(t testing.TB) storetest.OpenFunc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wxnotify.db")
	return func(t testing.TB) store.Driver {
		t.Helper()
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}

// NewPostgresDB creates a fresh schema in the database named by PostgresEnv,
// dropped when t ends, so tests run in parallel without seeing each other;
// Drivers are opened with postgres.Options.Schema. It skips t if
// PostgresEnv is unset and fails it if the server is unreachable.
func NewPostgresDB(t testing.TB) storetest.OpenFunc {
	t.Helper()
	dsn, schema := newPostgresSchema(t)
	return func(t testing.TB) store.Driver {
		t.Helper()
		db, err := postgres.Open(t.Context(), dsn, postgres.Options{Schema: schema, MaxConns: 4})
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
}

// PostgresSchemaDSN is NewPostgresDB for code that opens the database from a
// DSN itself (storeopen, the CLI): it returns the DSN of PostgresEnv with
// search_path set to a fresh schema, dropped when t ends. It skips t if
// PostgresEnv is unset and fails it if the server is unreachable.
func PostgresSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn, schema := newPostgresSchema(t)
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema // keyword/value form
}

func newPostgresSchema(t testing.TB) (dsn, schema string) {
	t.Helper()
	dsn = os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests skipped: set %s to a DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable", PostgresEnv)
	}
	schema = "wxtest_" + randomHex(8)
	if err := adminExec(t.Context(), dsn, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create test schema on %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		// t.Context() is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := adminExec(ctx, dsn, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return dsn, schema
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
