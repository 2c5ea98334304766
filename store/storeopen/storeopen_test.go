package storeopen_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store/storeopen"
)

func TestOpen_SQLiteCreatesDirectory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b", "wx.db")
	s, err := storeopen.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got, want := s.Engine(), "sqlite"; got != want {
		t.Fatalf("Engine()=%q, want %q", got, want)
	}
	if _, err := s.AppList(t.Context()); err != nil {
		t.Fatalf("AppList (migrated?): %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestOpen_SQLiteRelativePath(t *testing.T) {
	t.Chdir(t.TempDir()) // not parallel: changes the working directory
	s, err := storeopen.Open(t.Context(), "sqlite://./data/wx.db")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join("data", "wx.db")); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestOpen_Postgres(t *testing.T) {
	t.Parallel()
	dsn := testdb.PostgresSchemaDSN(t) // skips without WXNOTIFY_TEST_POSTGRES
	s, err := storeopen.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got, want := s.Engine(), "postgres"; got != want {
		t.Fatalf("Engine()=%q, want %q", got, want)
	}
	if _, err := s.AppList(t.Context()); err != nil {
		t.Fatalf("AppList (migrated?): %v", err)
	}
}

func TestOpen_ErrInvalid(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		dsn  string
	}{
		{name: "Empty", dsn: ""},
		{name: "BarePath", dsn: "./wx.db"},
		{name: "SQLiteNoPath", dsn: "sqlite://"},
		{name: "SQLiteOneSlash", dsn: "sqlite:wx.db"},
		{name: "MySQL", dsn: "mysql://root:hunter2@localhost/wx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := storeopen.Open(t.Context(), tt.dsn)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q): err=nil, want EINVALID", tt.dsn)
			}
			if got, want := wxnotify.ErrorCode(err), wxnotify.EINVALID; got != want {
				t.Fatalf("Open(%q): code=%q (%v), want %q", tt.dsn, got, err, want)
			}
			if msg := wxnotify.ErrorMessage(err); strings.Contains(msg, "hunter2") {
				t.Fatalf("message %q leaks the DSN", msg)
			}
		})
	}
}
