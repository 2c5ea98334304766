package postgres_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
	"github.com/wxnotify/wxnotify/store/postgres"
)

// TestListenDue: an accept through one instance wakes another's listener,
// also after the listener's connection was killed (it reconnects and wakes,
// since a notification may have been lost meanwhile).
func TestListenDue(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the PostgreSQL driver tests", testdb.PostgresEnv)
	}
	open := testdb.NewPostgresDB(t)
	a, b := open(t), open(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	woken := make(chan struct{}, 16)
	listener, ok := b.(store.DueListener)
	if !ok {
		t.Fatal("the PostgreSQL driver is not a store.DueListener")
	}
	done := make(chan error, 1)
	go func() {
		done <- listener.ListenDue(ctx, func() { woken <- struct{}{} }, slog.New(slog.DiscardHandler))
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-woken:
		case <-time.After(30 * time.Second):
			t.Fatalf("no wake-up: %s", what)
		}
	}
	wait("on connect")
	const app = "wx00000000000000aa"
	if err := a.AppInsert(ctx, &store.AppInsertParams{AppID: app, Name: "a", SecretSealed: []byte("x"), TokenMode: "stable", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	insert := func() {
		t.Helper()
		if _, err := a.MessageInsertMany(ctx, []*store.MessageInsertParams{{AppID: app, OpenID: "oU", Kind: "subscribe",
			TemplateID: "T", Data: []byte(`{}`), RunAt: time.Now(), Now: time.Now()}}); err != nil {
			t.Fatal(err)
		}
	}
	drain := func() {
		for {
			select {
			case <-woken:
			default:
				return
			}
		}
	}
	drain()
	insert()
	wait("after an insert on the other instance")

	// Kill the listening connections; the listener comes back by itself.
	conn, err := pgx.Connect(ctx, os.Getenv(testdb.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	drain()
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", postgres.ListenApplicationName); err != nil {
		t.Fatal(err)
	}
	wait("on reconnect after the connection was killed")
	drain()
	insert()
	wait("after an insert, once reconnected")
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("ListenDue returned %v, want context.Canceled", err)
	}
}
