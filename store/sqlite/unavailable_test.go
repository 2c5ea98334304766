package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/sqlite"
)

// TestUnavailable_Busy: a write that still finds the file locked by another
// process after busy_timeout is ErrUnavailable (EUNAVAILABLE: retry
// later), not an internal error; a read is not blocked by it.
func TestUnavailable_Busy(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "wxnotify.db")
	open := func() *sqlite.DB {
		db, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	holder, err := a.Begin(ctx) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)

	err = b.AppInsert(ctx, &store.AppInsertParams{AppID: "wx0000000000000001", SecretSealed: []byte{1}, TokenMode: "legacy", Now: time.Now()})
	if !errors.Is(err, store.ErrUnavailable) || wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE {
		t.Fatalf("AppInsert on a locked file: err=%v (code %q), want ErrUnavailable", err, wxnotify.ErrorCode(err))
	}
	_, err = b.Begin(ctx)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Begin on a locked file: err=%v, want ErrUnavailable", err)
	}
	if _, err := b.AppList(ctx); err != nil {
		t.Fatalf("AppList while another process writes: %v", err)
	}
}

// TestOpen_FileModes: a new database file and its -wal and -shm files are
// readable by their owner only, whatever the umask allows.
func TestOpen_FileModes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "wxnotify.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.AppInsert(t.Context(), &store.AppInsertParams{AppID: "wx0000000000000001", SecretSealed: []byte{1}, TokenMode: "legacy", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(f), got)
		}
	}
}
