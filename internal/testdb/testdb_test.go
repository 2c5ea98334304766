package testdb_test

import (
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/storetest"
)

// TestEngines checks the helpers other packages use: every engine gives a
// fresh database per test, and a second Driver on it sees the first's
// writes.
func TestEngines(t *testing.T) {
	t.Parallel()
	for _, e := range testdb.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			open := e.NewDB(t)
			a, b := open(t), open(t)
			if got, want := a.Engine(), e.Name; got != want {
				t.Fatalf("Engine()=%q, want %q", got, want)
			}
			if err := a.AppInsert(ctx, &store.AppInsertParams{
				AppID: "wx0000000000000001", Name: "n", SecretSealed: []byte("s"), TokenMode: "stable", Now: time.Now(),
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.AppGet(ctx, "wx0000000000000001"); err != nil {
				t.Fatalf("AppGet on the second Driver: %v", err)
			}
			// Another database is empty.
			if apps, err := e.NewDB(t)(t).AppList(ctx); err != nil || len(apps) != 0 {
				t.Fatalf("AppList on a new database=%d apps, %v; want 0", len(apps), err)
			}
		})
	}
}

// BenchmarkMessageQueue runs storetest.MessageQueueBenchmark on every engine:
//
//	go test ./internal/testdb -run '^$' -bench MessageQueue -benchtime 5x
//	WXNOTIFY_TEST_POSTGRES=postgres://… go test ./internal/testdb -run '^$' -bench MessageQueue -benchtime 5x
func BenchmarkMessageQueue(b *testing.B) {
	for _, e := range testdb.Engines(b) {
		b.Run(e.Name, func(b *testing.B) { storetest.MessageQueueBenchmark(b, e.NewDB) })
	}
}
