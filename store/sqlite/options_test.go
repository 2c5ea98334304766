package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestOpen_Pragmas checks the connection settings the package comment
// promises; the behaviour itself is tested by storetest through sqlite_test.go.
func TestOpen_Pragmas(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name            string
		opts            Options
		wantSynchronous int // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
	}{
		{name: "Default", opts: Options{}, wantSynchronous: 1},
		{name: "Full", opts: Options{Synchronous: "full"}, wantSynchronous: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db, err := Open(ctx, filepath.Join(t.TempDir(), "wx.db"), tt.opts)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()

			var mode string
			var fk, sync, busy int
			if err := db.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			} else if got, want := mode, "wal"; got != want {
				t.Errorf("journal_mode=%q, want %q", got, want)
			}
			if err := db.write.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
				t.Fatal(err)
			} else if got, want := sync, tt.wantSynchronous; got != want {
				t.Errorf("synchronous=%d, want %d", got, want)
			}
			for name, q := range map[string]func(string, any) error{
				"writer": func(p string, dst any) error { return db.write.QueryRowContext(ctx, p).Scan(dst) },
				"reader": func(p string, dst any) error { return db.read.QueryRowContext(ctx, p).Scan(dst) },
			} {
				if err := q("PRAGMA foreign_keys", &fk); err != nil {
					t.Fatal(err)
				} else if fk != 1 {
					t.Errorf("%s: foreign_keys=%d, want 1", name, fk)
				}
				if err := q("PRAGMA busy_timeout", &busy); err != nil {
					t.Fatal(err)
				} else if got, want := busy, int(DefaultBusyTimeout.Milliseconds()); got != want {
					t.Errorf("%s: busy_timeout=%d, want %d", name, got, want)
				}
			}
			// The read pool refuses writes.
			if _, err := db.read.ExecContext(ctx, "DELETE FROM app"); err == nil || !strings.Contains(err.Error(), "readonly") {
				t.Errorf("write on the read pool: err=%v, want a readonly error", err)
			}
		})
	}
}

func TestOpen_ErrSynchronous(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "wx.db"), Options{Synchronous: "NORMAL; DROP TABLE app"})
	if err == nil {
		t.Fatal("Open with a bad Synchronous: err=nil, want an error")
	}
}
