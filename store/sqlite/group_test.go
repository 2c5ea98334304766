package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wxnotify/wxnotify/store"
)

func openGroupTest(t *testing.T, size int) (*DB, *DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wx.db")
	db, err := Open(t.Context(), path, Options{GroupSize: size})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other, err := Open(t.Context(), path, Options{GroupSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return db, other
}

func insertApp(ctx context.Context, e store.Executor, i int) error {
	return e.AppInsert(ctx, &store.AppInsertParams{AppID: fmt.Sprintf("wx%016d", i), Name: "n", SecretSealed: []byte{1}, TokenMode: "stable", Now: time.Now()})
}

// TestGroupCommit: transactions begun together share SQLite transactions,
// each committed member is visible to another connection once its Commit
// returns, and a member that rolls back undoes its own writes only.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	db, other := openGroupTest(t, 8)
	ctx := t.Context()
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			tx, err := db.Begin(ctx)
			if err != nil {
				errs <- err
				return
			}
			if err := insertApp(ctx, tx, i); err != nil {
				tx.Rollback(ctx)
				errs <- err
				return
			}
			if i%5 == 0 { // every fifth one changes its mind
				errs <- tx.Rollback(ctx)
				return
			}
			if err := tx.Commit(ctx); err != nil {
				errs <- err
				return
			}
			// Committed means durable and visible, now.
			if _, err := other.AppGet(ctx, fmt.Sprintf("wx%016d", i)); err != nil {
				errs <- fmt.Errorf("app %d after its Commit: %w", i, err)
				return
			}
			errs <- nil
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	apps, err := other.AppList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := n - (n+4)/5; len(apps) != want {
		t.Fatalf("%d apps stored, want %d (the rolled-back ones undone, no other)", len(apps), want)
	}
	for _, a := range apps {
		var i int
		fmt.Sscanf(a.AppID, "wx%016d", &i)
		if i%5 == 0 {
			t.Errorf("app %d was rolled back but is stored", i)
		}
	}
}

// TestGroupCommit_FailedMemberKeepsOthers: a member whose statement fails
// (a unique violation) and rolls back leaves the members before it
// committed.
func TestGroupCommit_FailedMemberKeepsOthers(t *testing.T) {
	t.Parallel()
	db, other := openGroupTest(t, 8)
	ctx := t.Context()
	// Hold the turn with a first member, so the next two join its group.
	first, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := insertApp(ctx, first, 1); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 2)
	go func() {
		tx, err := db.Begin(ctx)
		if err != nil {
			results <- err
			return
		}
		err = insertApp(ctx, tx, 1) // taken by the first member
		tx.Rollback(ctx)
		results <- err
	}()
	for { // wait until the second one waits for the turn
		db.groups.mu.Lock()
		w := db.groups.waiting
		db.groups.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatalf("first member: %v", err)
	}
	if err := <-results; !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second member: %v, want a conflict", err)
	}
	if _, err := other.AppGet(ctx, fmt.Sprintf("wx%016d", 1)); err != nil {
		t.Fatalf("the first member's app: %v", err)
	}
	// The writer is free again.
	if err := insertApp(ctx, db, 2); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommit_CancelledWaiter: a caller that gives up waiting for the
// turn does not leave the group it would have joined uncommitted.
func TestGroupCommit_CancelledWaiter(t *testing.T) {
	t.Parallel()
	db, other := openGroupTest(t, 8)
	ctx := t.Context()
	first, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := insertApp(ctx, first, 1); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() {
		tx, err := db.Begin(wctx)
		if err == nil {
			err = tx.Commit(ctx) // it got the turn before its cancel: a member like any
		}
		gaveUp <- err
	}()
	for {
		db.groups.mu.Lock()
		w := db.groups.waiting
		db.groups.mu.Unlock()
		if w == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	committed := make(chan error)
	go func() { committed <- first.Commit(ctx) }() // leaves the group open for the waiter
	time.Sleep(5 * time.Millisecond)
	cancel()
	if err := <-gaveUp; err == nil {
		t.Log("the waiter joined before its cancel") // the other path, also fine
	}
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first member's Commit never returned: its group was left open")
	}
	if _, err := other.AppGet(ctx, fmt.Sprintf("wx%016d", 1)); err != nil {
		t.Fatal(err)
	}
}
