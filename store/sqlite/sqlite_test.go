package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/sqlite"
	"github.com/wxnotify/wxnotify/store/storetest"
)

func TestDB(t *testing.T) {
	t.Parallel()
	storetest.Exercise(t, func(t testing.TB) storetest.OpenFunc {
		path := filepath.Join(t.TempDir(), "wxnotify.db")
		return func(t testing.TB) store.Driver {
			t.Helper()
			db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
	})
}
