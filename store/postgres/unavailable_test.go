package postgres_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify"
	"github.com/wxnotify/wxnotify/internal/testdb"
	"github.com/wxnotify/wxnotify/store"
)

// TestUnavailable_ServerAway: with the server cut off (connections reset,
// new ones refused, through a proxy the test controls), every call is
// ErrUnavailable and so EUNAVAILABLE, on the pool and in a transaction
// whose connection went away under it; once the server is back the same
// Driver works again.
func TestUnavailable_ServerAway(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.PostgresEnv) == "" {
		t.Skipf("set %s to run the PostgreSQL driver tests", testdb.PostgresEnv)
	}
	open, proxy := testdb.NewPostgresDBThroughProxy(t)
	db := open(t)
	ctx := t.Context()
	if err := db.AppInsert(ctx, &store.AppInsertParams{AppID: "wx0000000000000001", SecretSealed: []byte{1}, TokenMode: "legacy", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)

	proxy.Down()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) || wxnotify.ErrorCode(err) != wxnotify.EUNAVAILABLE {
			t.Errorf("%s with the server away: err=%v (code %q), want ErrUnavailable", what, err, wxnotify.ErrorCode(err))
		}
	}
	_, err = tx.AppList(ctx)
	check("AppList in a transaction", err)
	check("Commit", tx.Commit(ctx))
	_, err = db.AppList(ctx)
	check("AppList", err)
	_, err = db.Begin(ctx)
	check("Begin", err)
	check("AppInsert", db.AppInsert(ctx, &store.AppInsertParams{AppID: "wx0000000000000002", SecretSealed: []byte{1}, TokenMode: "legacy", Now: time.Now()}))

	proxy.Up()
	apps, err := db.AppList(ctx)
	if err != nil || len(apps) != 1 {
		t.Fatalf("AppList once the server is back: %d apps, err=%v", len(apps), err)
	}
}
