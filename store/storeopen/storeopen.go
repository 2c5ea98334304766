// Package storeopen opens the store named by a database URL, choosing the
// driver by scheme. It is what the CLI's --db flag goes through; code that
// knows its engine may call store/sqlite or store/postgres directly.
package storeopen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/postgres"
	"github.com/wxnotify/wxnotify/store/sqlite"
)

// SQLitePrefix starts a SQLite database URL; everything after it is the file
// path, relative (sqlite://./wx.db) or absolute (sqlite:///var/lib/wx.db).
const SQLitePrefix = "sqlite://"

// Open opens and migrates the database named by dsn:
//
//	sqlite://PATH                 SQLite file at PATH; its directory is created if missing
//	postgres://… postgresql://…   PostgreSQL, any DSN pgx accepts in URL form
//
// Any other form is an EINVALID *wxnotify.Error. The DSN is never echoed in
// errors, since it may carry a password.
func Open(ctx context.Context, dsn string) (store.Driver, error) {
	switch {
	case strings.HasPrefix(dsn, SQLitePrefix):
		path := strings.TrimPrefix(dsn, SQLitePrefix)
		if path == "" {
			return nil, wxnotify.Errorf(wxnotify.EINVALID, "database URL sqlite:// needs a file path, e.g. sqlite://./wxnotify.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		return sqlite.Open(ctx, path, sqlite.Options{})
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.Open(ctx, dsn, postgres.Options{})
	}
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		scheme = ""
	}
	return nil, wxnotify.Errorf(wxnotify.EINVALID,
		"unknown database URL scheme %q: want sqlite://PATH, postgres://… or postgresql://…", scheme)
}
