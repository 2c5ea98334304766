package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

// exerciseTx checks transactions (Executor.Begin, ExecutorTx, store.InTx)
// and the database's clock (Executor.Now).
func exerciseTx(t *testing.T, newDB NewDBFunc) {
	setup := func(t *testing.T) (context.Context, store.Driver, OpenFunc) {
		t.Helper()
		open := newDB(t)
		return t.Context(), open(t), open
	}
	app1, app2, app3, app4 := testAppID(1), testAppID(2), testAppID(3), testAppID(4)

	t.Run("CommitMakesWritesVisible", func(t *testing.T) {
		t.Parallel()
		ctx, s, open := setup(t)
		other := open(t)
		tx := mustBegin(ctx, t, s)
		insertApp(ctx, t, tx, app1)
		if _, err := tx.AppGet(ctx, app1); err != nil {
			t.Fatalf("AppGet in the transaction that wrote it: %v", err)
		}
		if _, err := other.AppGet(ctx, app1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppGet on a second Driver before Commit: err=%v, want ErrNotFound", err)
		}
		if _, err := s.AppGet(ctx, app1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppGet on the pool before Commit: err=%v, want ErrNotFound", err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if _, err := other.AppGet(ctx, app1); err != nil {
			t.Fatalf("AppGet on a second Driver after Commit: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback after Commit=%v, want nil", err)
		}
		if _, err := s.AppGet(ctx, app1); err != nil {
			t.Fatalf("AppGet after Rollback-after-Commit: %v", err)
		}
	})

	t.Run("RollbackDiscards", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		tx := mustBegin(ctx, t, s)
		insertApp(ctx, t, tx, app1)
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if _, err := s.AppGet(ctx, app1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppGet after Rollback: err=%v, want ErrNotFound", err)
		}
		// The Driver is usable after a rollback.
		insertApp(ctx, t, s, app1)
	})

	// Methods that are several statements (a batch, all or none) run inside
	// the caller's transaction: they commit and roll back with it.
	batches := func(ctx context.Context, t *testing.T, tx store.Executor) {
		t.Helper()
		insertApp(ctx, t, tx, app1)
		mustInsertCredits(ctx, t, tx, subscribeCredit(app1, "oUserA", "T", testNow), formIDCredit(app1, "oUserA", "f1", testNow))
		mustInsertMessages(ctx, t, tx, newMessage(app1, "oUserA", "T", "k1"), newMessage(app1, "oUserA", "T", "k2"))
		if _, err := tx.TemplateSync(ctx, &store.TemplateSyncParams{AppID: app1, Kind: "subscribe", Now: testNow,
			Templates: []*store.Template{testTemplate("T", "subscribe")}}); err != nil {
			t.Fatalf("TemplateSync: %v", err)
		}
		if _, err := tx.WebhookInsert(ctx, &store.WebhookInsertParams{AppID: app1, URL: "https://a.example/hook",
			SecretSealed: []byte("s"), Now: testNow}); err != nil {
			t.Fatalf("WebhookInsert: %v", err)
		}
		if n, err := tx.WebhookOutboxInsertMany(ctx, []*store.WebhookOutboxInsertParams{
			{AppID: app1, MessageID: 1, Event: "message.delivered", Payload: []byte(`{}`), Now: testNow},
		}); err != nil || n != 1 {
			t.Fatalf("WebhookOutboxInsertMany=%d, %v; want 1", n, err)
		}
	}
	t.Run("BatchesJoinTheTransaction", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		tx := mustBegin(ctx, t, s)
		batches(ctx, t, tx)
		checkCounts(ctx, t, tx, &store.MessageCountsParams{}, map[string]int64{"queued": 2})
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		if apps, err := s.AppList(ctx); err != nil || len(apps) != 0 {
			t.Fatalf("AppList after Rollback=%d apps, %v; want none", len(apps), err)
		}
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{})
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: testNow})
		if c, err := s.WebhookOutboxCounts(ctx, 0); err != nil || len(c) != 0 {
			t.Fatalf("WebhookOutboxCounts after Rollback=%v, %v; want none", c, err)
		}

		tx = mustBegin(ctx, t, s)
		batches(ctx, t, tx)
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		checkCounts(ctx, t, s, &store.MessageCountsParams{}, map[string]int64{"queued": 2})
		checkStocks(ctx, t, s, &store.CreditStocksParams{Cutoff: testNow},
			app1+"//form_id/ credits=1 uses=1 rej=0", app1+"//subscribe/T credits=1 uses=1 rej=0")
		if list, err := s.TemplateList(ctx, app1); err != nil || len(list) != 1 {
			t.Fatalf("TemplateList after Commit=%d, %v; want 1", len(list), err)
		}
		if c, err := s.WebhookOutboxCounts(ctx, 0); err != nil || c["pending"] != 1 {
			t.Fatalf("WebhookOutboxCounts after Commit=%v, %v; want 1 pending", c, err)
		}
	})

	t.Run("Savepoints", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		tx := mustBegin(ctx, t, s)
		insertApp(ctx, t, tx, app1)

		// A nested transaction rolled back discards its writes only.
		sp := mustBegin(ctx, t, tx)
		insertApp(ctx, t, sp, app2)
		if _, err := sp.AppGet(ctx, app1); err != nil {
			t.Fatalf("AppGet of the outer transaction's write in a savepoint: %v", err)
		}
		if err := sp.Rollback(ctx); err != nil {
			t.Fatalf("Rollback of a savepoint: %v", err)
		}
		if _, err := tx.AppGet(ctx, app2); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("AppGet of a rolled back savepoint's write: err=%v, want ErrNotFound", err)
		}
		if _, err := tx.AppGet(ctx, app1); err != nil {
			t.Fatalf("AppGet of the outer write after the savepoint's rollback: %v", err)
		}

		// A nested transaction committed keeps its writes in the outer one;
		// one nested in it, rolled back, discards its own.
		sp = mustBegin(ctx, t, tx)
		insertApp(ctx, t, sp, app3)
		inner := mustBegin(ctx, t, sp)
		insertApp(ctx, t, inner, app2)
		if err := inner.Rollback(ctx); err != nil {
			t.Fatalf("Rollback of a nested savepoint: %v", err)
		}
		if err := sp.Commit(ctx); err != nil {
			t.Fatalf("Commit of a savepoint: %v", err)
		}
		if err := sp.Rollback(ctx); err != nil {
			t.Fatalf("Rollback after Commit of a savepoint=%v, want nil", err)
		}
		insertApp(ctx, t, tx, app4)
		if err := tx.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		checkApps(ctx, t, s, app1, app3, app4)

		// The outer rollback discards a committed savepoint's writes.
		tx = mustBegin(ctx, t, s)
		sp = mustBegin(ctx, t, tx)
		insertApp(ctx, t, sp, app2)
		if err := sp.Commit(ctx); err != nil {
			t.Fatalf("Commit of a savepoint: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		checkApps(ctx, t, s, app1, app3, app4)
	})

	t.Run("InTx", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		boom := errors.New("boom")
		// fn bodies return errors rather than fail t: InTx rolls back on an
		// error or a panic, not on runtime.Goexit.
		add := func(tx store.Executor, appID string) error {
			return tx.AppInsert(ctx, &store.AppInsertParams{AppID: appID, Name: "app", SecretSealed: []byte("x"),
				TokenMode: "stable", Now: testNow})
		}
		err := store.InTx(ctx, s, func(tx store.Executor) error {
			if err := add(tx, app1); err != nil {
				return err
			}
			return fmt.Errorf("wrapped: %w", boom)
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx=%v, want fn's error", err)
		}
		checkApps(ctx, t, s)

		func() {
			defer func() {
				if r := recover(); r != boom {
					t.Fatalf("InTx panicked with %v, want fn's panic", r)
				}
			}()
			store.InTx(ctx, s, func(tx store.Executor) error {
				if err := add(tx, app1); err != nil {
					return err
				}
				panic(boom)
			})
		}()
		checkApps(ctx, t, s)

		if err := store.InTx(ctx, s, func(tx store.Executor) error {
			if err := add(tx, app1); err != nil {
				return err
			}
			// Nested: a failing inner InTx rolls back its savepoint only.
			if err := store.InTx(ctx, tx, func(tx store.Executor) error {
				if err := add(tx, app2); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				return fmt.Errorf("nested InTx=%v, want boom", err)
			}
			return store.InTx(ctx, tx, func(tx store.Executor) error { return add(tx, app3) })
		}); err != nil {
			t.Fatalf("InTx: %v", err)
		}
		checkApps(ctx, t, s, app1, app3)
	})

	t.Run("Now", func(t *testing.T) {
		t.Parallel()
		ctx, s, _ := setup(t)
		check := func(name string, e store.Executor) {
			t.Helper()
			before := time.Now()
			now, err := e.Now(ctx)
			after := time.Now()
			if err != nil {
				t.Fatalf("%s: Now: %v", name, err)
			}
			// Both engines run on this machine: their clock is ours.
			const slack = 5 * time.Second
			switch {
			case now.IsZero():
				t.Fatalf("%s: Now is zero", name)
			case now.Location() != time.UTC:
				t.Errorf("%s: Now location=%v, want UTC", name, now.Location())
			case !now.Equal(now.Truncate(store.TimePrecision)):
				t.Errorf("%s: Now=%v, not truncated to %v", name, now, store.TimePrecision)
			case now.Before(before.Add(-slack)) || now.After(after.Add(slack)):
				t.Errorf("%s: Now=%v, want within %v of %v", name, now, slack, before.UTC())
			}
		}
		check("pool", s)
		tx := mustBegin(ctx, t, s)
		check("transaction", tx)
		sp := mustBegin(ctx, t, tx)
		check("savepoint", sp)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// mustBegin begins a transaction on e, rolled back when t ends unless it
// was committed (Rollback after Commit is a no-op), so that a failing test
// never leaves a connection in a transaction.
func mustBegin(ctx context.Context, t testing.TB, e store.Executor) store.ExecutorTx {
	t.Helper()
	tx, err := e.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}

// withTx runs fn in a transaction on e and commits it; a failure in fn
// (t.Fatal) rolls it back.
func withTx(ctx context.Context, t testing.TB, e store.Executor, fn func(tx store.Executor)) {
	t.Helper()
	tx, err := e.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	fn(tx)
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// checkApps checks that the apps stored are exactly want, in order.
func checkApps(ctx context.Context, t *testing.T, e store.Executor, want ...string) {
	t.Helper()
	apps, err := e.AppList(ctx)
	if err != nil {
		t.Fatalf("AppList: %v", err)
	}
	got := []string{}
	for _, a := range apps {
		got = append(got, a.AppID)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("apps=%v, want %v", got, want)
	}
}
